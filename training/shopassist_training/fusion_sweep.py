"""Replays retrieval.FuseWeighted (weighted reciprocal rank fusion) on a
lexical and a dense ranking written by `assistant eval search --run-out`
and prints nDCG@10 and recall@100 (retrieval.NDCG / Recall, rating >= 2)
over the dev judgments for a grid of dense weights, RRF k and candidate
depths, so fusion settings can be compared without re-indexing in Go.

  go run ./cmd/assistant eval search --judgments training/data/icecat_judgments_dev.csv --mode lexical --k 200 --run-out lex.csv
  go run ./cmd/assistant eval search --judgments ... --mode dense --model-dir models/biencoder --k 200 --run-out dense.csv
  /usr/bin/python3 -m shopassist_training.fusion_sweep --lexical lex.csv --dense dense.csv
"""
from __future__ import annotations

import argparse
import json
from typing import List

from . import judgments


def fuse(k: int, rrf_k: float, weights: List[float], *lists: List[str]) -> List[str]:
    score, order = {}, {}
    for w, lst in zip(weights, lists):
        for r, d in enumerate(lst):
            if d not in score:
                score[d], order[d] = 0.0, len(order)
            score[d] += w / (rrf_k + r + 1)
    return sorted(score, key=lambda d: (-score[d], order[d]))[:k]


def evaluate(runs, judged):
    nd = sum(judgments.ndcg(runs[q], judged[q], 10) for q in judged) / len(judged)
    rec = [judgments.recall(runs[q], judged[q], 100) for q in judged]
    rec = [r for r in rec if r is not None]
    return round(nd, 4), round(sum(rec) / len(rec), 4)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--lexical", required=True)
    ap.add_argument("--dense", required=True)
    ap.add_argument("--judgments", default=judgments.DEV)
    ap.add_argument("--weights", default="0.3,0.4,0.5,0.6,0.7,0.8,1.0,1.2,1.5")
    ap.add_argument("--rrf-k", default="60")
    ap.add_argument("--candidates", default="100")
    args = ap.parse_args(argv)
    judged = judgments.read(args.judgments)
    lex, dense = judgments.read_run(args.lexical), judgments.read_run(args.dense)
    for name, run in (("lexical", lex), ("dense", dense)):
        print(json.dumps({"mode": name, "ndcg@10,recall@100": evaluate({q: run.get(q, [])[:100] for q in judged}, judged)}))
    for n in (int(x) for x in args.candidates.split(",")):
        for rk in (float(x) for x in args.rrf_k.split(",")):
            for w in (float(x) for x in args.weights.split(",")):
                runs = {q: fuse(100, rk, [1.0, w], lex.get(q, [])[:n], dense.get(q, [])[:n]) for q in judged}
                print(json.dumps({"candidates": n, "rrf_k": rk, "dense_weight": w,
                                  "ndcg@10,recall@100": evaluate(runs, judged)}))


if __name__ == "__main__":
    main()
