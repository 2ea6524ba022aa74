#!/usr/bin/env python3
"""Reference reranking server for the cross-encoder of models/reranker.

Loads the PyTorch checkpoint the ONNX export came from (a rerank_train run
folder: model.pt + summary.json) and the model folder's vocab.txt, and
serves the Hugging Face text-embeddings-inference /rerank shape:

  POST /rerank  {"query": "laptop case", "texts": ["...", "..."]}
  ->  [{"index": 1, "score": 0.96}, {"index": 0, "score": 0.15}]   (score descending)

As in TEI, ``score`` is sigmoid(logit) (the relevance probability the model was
trained towards with its binary cross-entropy term) unless the body says
"raw_scores": true, which returns the logit the ONNX export's "logits" output
gives; "return_text": true adds each item's "text". Pairs are encoded exactly as
inference.Tokenizer.EncodePair does ([CLS] query [SEP] text [SEP], longest-first
truncation to config.json max_length) and scored in batches of --batch.
Uses CUDA when available (--device auto), else CPU.

  /usr/bin/python3 training/rerank_server.py --model-dir models/reranker --port 8081
  curl -s localhost:8081/rerank -d '{"query":"laptop case","texts":["Targus notebook case","HP toner"]}'
  /usr/bin/python3 training/rerank_server.py --bench --bench-pairs 50 --batch 50   # pairs/s, no server
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from shopassist_training.rerank_eval import load  # noqa: E402
from shopassist_training.rerank_train import batch_tensors, encode_pair  # noqa: E402
from shopassist_training.tokenizer import BertTokenizer  # noqa: E402

MAX_TEXTS = 1000


class Reranker:
    def __init__(self, model_dir: str, checkpoint: str, device: str, batch: int):
        cfg = json.load(open(os.path.join(model_dir, "config.json")))
        self.max_length = int(cfg["max_length"])
        self.tok = BertTokenizer(os.path.join(model_dir, "vocab.txt"))
        self.sep = self.tok.vocab["[SEP]"]
        self.model, _ = load(checkpoint)
        if self.model.config.vocab_size != len(self.tok.vocab):
            raise ValueError(f"{checkpoint}: vocab size {self.model.config.vocab_size} != {model_dir}/vocab.txt")
        self.device = torch.device(device)
        self.model.to(self.device)
        self.batch = batch
        self.lock = threading.Lock()  # one forward at a time (CPU threads / one GPU stream)

    def encode(self, query: str, texts):
        return [encode_pair(self.tok, query, t, self.max_length) for t in texts]

    @torch.no_grad()
    def forward(self, seqs):
        out = []
        for s in range(0, len(seqs), self.batch):
            ids, mask, types = (x.to(self.device) for x in batch_tensors(seqs[s:s + self.batch], self.sep))
            with self.lock:
                out += self.model(ids, mask, types)[:, 0].float().cpu().tolist()
        return out

    def scores(self, query: str, texts):
        return self.forward(self.encode(query, texts))


def make_handler(rr: Reranker):
    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self):
            if self.path != "/rerank":
                self._send(404, {"error": "not found"})
                return
            try:
                n = int(self.headers.get("Content-Length") or 0)
                req = json.loads(self.rfile.read(n) or b"{}")
                query, texts = req.get("query"), req.get("texts")
                if not isinstance(query, str) or not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                    raise ValueError('body must be {"query": string, "texts": [string, ...]}')
                if len(texts) > MAX_TEXTS:
                    raise ValueError(f"at most {MAX_TEXTS} texts")
            except (ValueError, json.JSONDecodeError) as e:
                self._send(400, {"error": str(e)})
                return
            s = rr.scores(query, texts) if texts else []
            if req.get("raw_scores") is not True:
                s = [1 / (1 + math.exp(-min(max(x, -60.0), 60.0))) for x in s]
            order = sorted(range(len(s)), key=lambda i: -s[i])
            out = [{"index": i, "score": s[i]} for i in order]
            if req.get("return_text") is True:
                for o in out:
                    o["text"] = texts[o["index"]]
            self._send(200, out)

        def log_message(self, fmt, *args):
            sys.stderr.write("rerank_server: " + fmt % args + "\n")

    return Handler


def bench(rr: Reranker, n_pairs: int, seconds: float):
    """Requests of n_pairs texts for ``seconds``: end to end (pure-Python
    tokenisation + forward) and the forward pass alone (pre-tokenised)."""
    query = "wireless laptop mouse"
    texts = [f"Logitech M{i} Wireless Optical Mouse RF 1000 DPI black for notebook, 2.4 GHz receiver, "
             f"battery life up to {i % 24} months" for i in range(n_pairs)]
    seqs = rr.encode(query, texts)
    res = {"device": str(rr.device), "threads": torch.get_num_threads(), "pairs_per_request": n_pairs,
           "batch": rr.batch, "max_length": rr.max_length}
    for name, fn in (("end_to_end", lambda: rr.scores(query, texts)), ("model_only", lambda: rr.forward(seqs))):
        fn()  # warm-up
        lat = []
        t0 = time.time()
        while time.time() - t0 < seconds / 2:
            t = time.time()
            fn()
            if rr.device.type == "cuda":
                torch.cuda.synchronize()
            lat.append(time.time() - t)
        lat.sort()
        res[name] = {"requests": len(lat), "pairs_per_s": round(n_pairs * len(lat) / sum(lat), 1),
                     "p50_ms": round(1000 * lat[len(lat) // 2], 2),
                     "p99_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2)}
    print(json.dumps(res))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", default=os.path.join(os.path.dirname(HERE), "models", "reranker"))
    ap.add_argument("--checkpoint", default="", help="rerank_train run folder (default: <repo>/ + model-dir/SOURCE_RUN)")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:1, ...")
    ap.add_argument("--batch", type=int, default=64, help="pairs per forward pass")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--bench", action="store_true", help="print pairs/s for requests of --bench-pairs texts and exit")
    ap.add_argument("--bench-pairs", type=int, default=50)
    ap.add_argument("--bench-seconds", type=float, default=10)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    ckpt = args.checkpoint
    if not ckpt:
        with open(os.path.join(args.model_dir, "SOURCE_RUN")) as f:
            ckpt = os.path.join(os.path.dirname(HERE), f.read().strip())
    rr = Reranker(args.model_dir, ckpt, device, args.batch)
    if args.bench:
        bench(rr, args.bench_pairs, args.bench_seconds)
        return
    srv = ThreadingHTTPServer((args.host, args.port), make_handler(rr))
    print(f"rerank_server: {ckpt} on {device}, max_length {rr.max_length}, listening on {args.host}:{args.port}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
