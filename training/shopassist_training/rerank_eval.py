"""Reranks the top ``--depth`` candidates of a Go search run with a
rerank_train checkpoint and prints nDCG@10 (retrieval.NDCG) of the
retrieval order and of the reranked order on the full dev judgments and on
its train/holdout splits (judgments.split_dev), each with nDCG'@10
(unjudged products removed, retrieval.NDCGJudged), plus blends
``logit - w * ln(rank)`` that keep some of the retrieval order.

  go run ./cmd/assistant eval search --judgments training/data/icecat_judgments_dev.csv \
      --mode hybrid --model-dir models/biencoder --run-out artifacts/reranker/hybrid_run.csv
  /usr/bin/python3 -m shopassist_training.rerank_eval --run artifacts/reranker/run \
      --candidates artifacts/reranker/hybrid_run.csv --vocab models/reranker/vocab.txt
"""
from __future__ import annotations

import argparse
import json
import math
import os

import torch

from . import bienc_data, judgments
from .model import BertConfig, BertForSequenceClassification
from .rerank_train import batch_tensors, encode_pair
from .tokenizer import BertTokenizer


def load(run_dir: str) -> BertForSequenceClassification:
    s = json.load(open(os.path.join(run_dir, "summary.json")))
    m = BertForSequenceClassification(BertConfig(**s["config"]))
    m.load_state_dict(torch.load(os.path.join(run_dir, "model.pt"), map_location="cpu"))
    m.eval()
    return m, s


@torch.no_grad()
def score(model, tok, query, docs, max_length, batch: int = 64):
    sep = tok.vocab["[SEP]"]
    out = []
    for s in range(0, len(docs), batch):
        seqs = [encode_pair(tok, query, d, max_length) for d in docs[s:s + batch]]
        out += model(*batch_tensors(seqs, sep))[:, 0].tolist()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--candidates", required=True, help="CSV query,docid,rank from eval search --run-out")
    ap.add_argument("--products", default=bienc_data.PRODUCTS_JSONL)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, s = load(args.run)
    max_length = s["args"]["max_length"]
    tok = BertTokenizer(args.vocab)
    text = {p["id"]: p["text"] for p in bienc_data.load_products(args.products)}
    run = judgments.read_run(args.candidates)
    judged = judgments.read(judgments.DEV)
    blends = [0.0, 0.5, 1.0, 2.0]
    ranked = {w: {} for w in blends}
    for q in judged:
        cands = run.get(q, [])[:args.depth]
        logits = score(model, tok, q, [text[d] for d in cands], max_length) if cands else []
        for w in blends:
            z = [l - w * math.log(r + 1) for r, l in enumerate(logits)]
            order = sorted(range(len(cands)), key=lambda i: -z[i])
            ranked[w][q] = [cands[i] for i in order] + run.get(q, [])[args.depth:]
    splits = {"dev": list(judged), "train": [q for q in judged if judgments.in_train_split(q)],
              "holdout": [q for q in judged if not judgments.in_train_split(q)]}
    res = {}
    for name, qs in splits.items():
        sub = {q: judged[q] for q in qs}
        res[name] = {"queries": len(qs), "retrieval": [round(judgments.mean_ndcg(run, sub, condensed=c), 4) for c in (False, True)]}
        for w in blends:
            res[name][f"rerank_w{w}"] = [round(judgments.mean_ndcg(ranked[w], sub, condensed=c), 4) for c in (False, True)]
    print(json.dumps({"run": args.run, "depth": args.depth, "[ndcg@10, ndcg'@10]": res}))


if __name__ == "__main__":
    main()
