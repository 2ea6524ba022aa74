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
truncation to config.json max_length; the token ids of recent texts are cached,
since the same products come back query after query). Concurrent requests are
batched together, as GPU inference servers do: one thread runs the model on
whatever pairs are waiting, up to --batch pairs per forward pass, waiting at
most --batch-wait-ms for more once a request is queued. Uses CUDA when
available (--device auto), else CPU.

  /usr/bin/python3 training/rerank_server.py --model-dir models/reranker --port 8081
  curl -s localhost:8081/rerank -d '{"query":"laptop case","texts":["Targus notebook case","HP toner"]}'
  /usr/bin/python3 training/rerank_server.py --bench --bench-pairs 50 --batch 50   # pairs/s, no server
"""
from __future__ import annotations

import argparse
import json
import math
import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from shopassist_training.model import BertConfig, BertForSequenceClassification  # noqa: E402
from shopassist_training.rerank_eval import load  # noqa: E402
from shopassist_training.rerank_train import batch_tensors  # noqa: E402
from shopassist_training.tokenizer import BertTokenizer, truncate_longest_first  # noqa: E402

MAX_TEXTS = 1000
TOKEN_CACHE = 200_000  # texts whose token ids are kept (LRU)


class Reranker:
    def __init__(self, model_dir: str, checkpoint: str, device: str, batch: int, wait_ms: float = 0,
                 dtype: str = "float32"):
        cfg = json.load(open(os.path.join(model_dir, "config.json")))
        self.max_length = int(cfg["max_length"])
        self.tok = BertTokenizer(os.path.join(model_dir, "vocab.txt"))
        self.cls, self.sep = self.tok.vocab["[CLS]"], self.tok.vocab["[SEP]"]
        self.model, _ = load(checkpoint)
        if self.model.config.vocab_size != len(self.tok.vocab):
            raise ValueError(f"{checkpoint}: vocab size {self.model.config.vocab_size} != {model_dir}/vocab.txt")
        self.device = torch.device(device)
        self.model.to(self.device)
        self.batch = batch
        # float32: the ONNX export's arithmetic; bfloat16/float16: mixed precision (autocast), for GPUs
        self.amp = None if dtype == "float32" else getattr(torch, dtype)
        self.wait = wait_ms / 1000
        self.cache: "OrderedDict[str, list]" = OrderedDict()
        self.cache_lock = threading.Lock()
        self.pending: "queue.Queue" = queue.Queue()
        threading.Thread(target=self._batch_loop, daemon=True).start()

    def token_ids(self, text: str):
        with self.cache_lock:
            ids = self.cache.get(text)
            if ids is not None:
                self.cache.move_to_end(text)
                return ids
        ids = self.tok.convert_tokens_to_ids(self.tok.tokenize(text))
        with self.cache_lock:
            self.cache[text] = ids
            if len(self.cache) > TOKEN_CACHE:
                self.cache.popitem(last=False)
        return ids

    def encode(self, query: str, texts):
        """BertTokenizer.encode(query, text, max_length) for each text."""
        q = self.tok.convert_tokens_to_ids(self.tok.tokenize(query))
        out = []
        for t in texts:
            a, b = q, self.token_ids(t)
            remove = len(a) + len(b) + 3 - self.max_length
            if remove > 0:
                a, b = truncate_longest_first(a, b, remove)
            out.append([self.cls] + a + [self.sep] + b + [self.sep])
        return out

    @torch.no_grad()
    def forward(self, seqs):
        """Logits of seqs, --batch pairs per forward pass (call from one thread)."""
        out = []
        for s in range(0, len(seqs), self.batch):
            ids, mask, types = (x.to(self.device) for x in batch_tensors(seqs[s:s + self.batch], self.sep))
            with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
                out += self.model(ids, mask, types)[:, 0].float().cpu().tolist()
        return out

    def _batch_loop(self):
        """Runs the pairs of every waiting request in shared forward passes."""
        while True:
            jobs = [self.pending.get()]
            n = len(jobs[0][0])
            deadline = time.monotonic() + self.wait
            while n < self.batch:
                try:
                    left = deadline - time.monotonic()
                    job = self.pending.get(timeout=left) if left > 0 else self.pending.get_nowait()
                except queue.Empty:
                    break
                jobs.append(job)
                n += len(job[0])
            try:
                logits = self.forward([s for seqs, _ in jobs for s in seqs])
                err = None
            except Exception as e:  # handed to every waiting request
                logits, err = [], e
            at = 0
            for seqs, done in jobs:
                done["logits"], done["error"] = logits[at:at + len(seqs)], err
                at += len(seqs)
                done["event"].set()

    def scores(self, query: str, texts):
        done = {"event": threading.Event()}
        self.pending.put((self.encode(query, texts), done))
        done["event"].wait()
        if done["error"] is not None:
            raise done["error"]
        return done["logits"]


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
            try:
                s = rr.scores(query, texts) if texts else []
            except Exception as e:  # a failed forward pass: the client falls back
                self._send(500, {"error": f"scoring failed: {e}"})
                return
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


def stand_in(rr: Reranker, shape: str, max_length: int):
    """Swaps rr's model for a random-weight one of shape "HIDDEN,LAYERS" (and
    rr's pair length for max_length, when set): what a bigger cross-encoder
    would cost, for --bench only."""
    hidden, layers = (int(x) for x in shape.split(","))
    if max_length:
        rr.max_length = max_length
    c = rr.model.config
    cfg = BertConfig(vocab_size=c.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=max(2, hidden // 64), intermediate_size=4 * hidden,
                     max_position_embeddings=max(c.max_position_embeddings, rr.max_length), num_labels=c.num_labels)
    rr.model = BertForSequenceClassification(cfg).eval().to(rr.device)


def bench(rr: Reranker, n_pairs: int, seconds: float):
    """Requests of n_pairs texts for ``seconds``, one at a time: end to end
    (pure-Python tokenisation of the query, the texts' token ids from the
    cache after the first request, the forward pass) and the forward pass
    alone (pre-tokenised)."""
    query = "wireless laptop mouse"
    texts = [f"Logitech M{i} Wireless Optical Mouse RF 1000 DPI black for notebook, 2.4 GHz receiver, "
             f"battery life up to {i % 24} months. Ergonomic shape for right- and left-handed use, plug and play "
             f"with Windows, macOS and Linux, silent buttons, {i % 5 + 1} year warranty" for i in range(n_pairs)]
    seqs = rr.encode(query, texts)
    c = rr.model.config
    res = {"device": str(rr.device), "dtype": str(rr.amp or torch.float32).replace("torch.", ""),
           "threads": torch.get_num_threads(), "pairs_per_request": n_pairs,
           "batch": rr.batch, "max_length": rr.max_length, "hidden": c.hidden_size, "layers": c.num_hidden_layers}
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
    if rr.amp is not None:  # what mixed precision does to the scores of these pairs
        low, amp = rr.forward(seqs), rr.amp
        rr.amp = None
        ref = rr.forward(seqs)
        rr.amp = amp
        res["max_abs_logit_diff_vs_float32"] = round(max(abs(a - b) for a, b in zip(low, ref)), 4)
    print(json.dumps(res))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", default=os.path.join(os.path.dirname(HERE), "models", "reranker"))
    ap.add_argument("--checkpoint", default="", help="rerank_train run folder (default: <repo>/ + model-dir/SOURCE_RUN)")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:1, ...")
    ap.add_argument("--batch", type=int, default=0,
                    help="most pairs per forward pass, across concurrent requests (default: 1024 on CUDA, 64 on CPU)")
    ap.add_argument("--batch-wait-ms", type=float, default=0,
                    help="once a request waits, how long to wait for more before a forward pass (default 0: "
                         "batch only what is already queued)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                    help="arithmetic: float32 (as the ONNX export) or mixed precision (autocast; for GPUs)")
    ap.add_argument("--bench", action="store_true", help="print pairs/s for requests of --bench-pairs texts and exit")
    ap.add_argument("--bench-pairs", type=int, default=50)
    ap.add_argument("--bench-seconds", type=float, default=10)
    ap.add_argument("--bench-shape", default="", metavar="HIDDEN,LAYERS",
                    help="time a random-weight model of this shape instead of the checkpoint (speed only)")
    ap.add_argument("--bench-max-length", type=int, default=0, help="with --bench-shape: tokens per pair")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    ckpt = args.checkpoint
    if not ckpt:
        with open(os.path.join(args.model_dir, "SOURCE_RUN")) as f:
            ckpt = os.path.join(os.path.dirname(HERE), f.read().strip())
    batch = args.batch or (1024 if device.startswith("cuda") else 64)
    rr = Reranker(args.model_dir, ckpt, device, batch, args.batch_wait_ms, args.dtype)
    if args.bench_shape:
        stand_in(rr, args.bench_shape, args.bench_max_length)
    if args.bench:
        bench(rr, args.bench_pairs, args.bench_seconds)
        return
    ThreadingHTTPServer.request_queue_size = 256  # listen backlog (socketserver's default, 5, refuses bursts)
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer((args.host, args.port), make_handler(rr))
    print(f"rerank_server: {ckpt} on {device} ({args.dtype}), max_length {rr.max_length}, up to {batch} pairs per forward pass, "
          f"listening on {args.host}:{args.port}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
