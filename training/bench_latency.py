#!/usr/bin/env python3
"""PyTorch CPU latency of a trained run: one utterance (p50/p99 ms) and
batched throughput (utterances/s), 1 thread.

  /usr/bin/python3 training/bench_latency.py artifacts/intent/l2h128_v5 [more runs...]
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch  # noqa: E402

from shopassist_training import data  # noqa: E402
from shopassist_training.export import load  # noqa: E402
from shopassist_training.tokenizer import BertTokenizer  # noqa: E402


def main():
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    tok = BertTokenizer(os.path.join(data.REPO, "models", "intent", "vocab.txt"))
    texts = [u for u, _ in data.read_eval_csv(os.path.join(data.HELDOUT, "bitext_heldout.csv"))][:512]
    for run in sys.argv[1:]:
        model, s = load(run)
        lat = []
        with torch.no_grad():
            for i in range(1000):
                e = tok.encode(texts[i % len(texts)])
                x = [torch.tensor([e[k]]) for k in ("input_ids", "attention_mask", "token_type_ids")]
                t = time.perf_counter()
                model(*x)
                lat.append(time.perf_counter() - t)
            lat = sorted(lat[50:])
            t = time.perf_counter()
            for b in range(0, len(texts), 32):
                enc = tok.batch_encode(texts[b:b + 32])
                model(*[torch.tensor(enc[k]) for k in ("input_ids", "attention_mask", "token_type_ids")])
            thr = len(texts) / (time.perf_counter() - t)
        size = os.path.getsize(os.path.join(run, "model.pt")) / 1e6
        print(json.dumps({"run": os.path.basename(run.rstrip("/")), "params": s["params"], "model_pt_mb": round(size, 2),
                          "p50_ms": round(lat[len(lat) // 2] * 1000, 3), "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 3),
                          "batch32_utt_per_s_incl_tokenize": round(thr)}))


if __name__ == "__main__":
    main()
