"""The Icecat relevance judgments (data/icecat_judgments_dev.csv) and the
search metrics of the Go evaluator (retrieval/metrics.go), for measuring
rankings on the PyTorch side.

``split_dev`` cuts the 69 dev queries in two by the md5 of the query string
(even first byte: train, odd: holdout) and writes
data/icecat_judgments_dev_train.csv and data/icecat_judgments_dev_holdout.csv
(same columns). Only the reranker may read the train file, and only when
told to (rerank_train --dev-train); nothing trains on the holdout file.
"""
from __future__ import annotations

import csv
import hashlib
import math
import os
from typing import Dict, List

from . import data

DEV = os.path.join(data.DATA, "icecat_judgments_dev.csv")
DEV_TRAIN = os.path.join(data.DATA, "icecat_judgments_dev_train.csv")
DEV_HOLDOUT = os.path.join(data.DATA, "icecat_judgments_dev_holdout.csv")

Judged = Dict[str, Dict[str, int]]  # query -> product id -> rating 0..3


def read(path: str = DEV) -> Judged:
    out: Judged = {}
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["query"], {})[r["docid"]] = int(r["rating"])
    return out


def in_train_split(query: str) -> bool:
    return hashlib.md5(query.encode("utf-8")).digest()[0] % 2 == 0


def split_dev(src: str = DEV, train: str = DEV_TRAIN, holdout: str = DEV_HOLDOUT):
    with open(src, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for path, keep in ((train, True), (holdout, False)):
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["query", "docid", "rating"])
            for r in rows:
                if in_train_split(r["query"]) == keep:
                    w.writerow([r["query"], r["docid"], r["rating"]])
    n_train = len({r["query"] for r in rows if in_train_split(r["query"])})
    return n_train, len({r["query"] for r in rows}) - n_train


def read_run(path: str) -> Dict[str, List[str]]:
    """A ranking CSV written by `assistant eval search --run-out` (query,docid,rank)."""
    out: Dict[str, List[tuple]] = {}
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            out.setdefault(r["query"], []).append((int(r["rank"]), r["docid"]))
    return {q: [d for _, d in sorted(v)] for q, v in out.items()}


def _gain(r: int) -> float:
    return 2.0 ** r - 1


def ndcg(ranked: List[str], judged: Dict[str, int], k: int = 10) -> float:
    """retrieval.NDCG: gain 2^r-1, unjudged gain 0, ideal from all judged products."""
    dcg = sum(_gain(judged.get(d, 0)) / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if judged.get(d, 0) > 0)
    ideal_r = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
    ideal = sum(_gain(r) / math.log2(i + 2) for i, r in enumerate(ideal_r))
    return dcg / ideal if ideal else 0.0


def ndcg_judged(ranked: List[str], judged: Dict[str, int], k: int = 10) -> float:
    """retrieval.NDCGJudged (nDCG'): unjudged products dropped before the cut."""
    return ndcg([d for d in ranked if d in judged][:k], judged, k)


def recall(ranked: List[str], judged: Dict[str, int], k: int = 100, min_rating: int = 2):
    rel = {d for d, r in judged.items() if r >= min_rating}
    if not rel:
        return None
    return len(rel & set(ranked[:k])) / len(rel)


def mean_ndcg(runs: Dict[str, List[str]], judged: Judged, k: int = 10, condensed: bool = False) -> float:
    f = ndcg_judged if condensed else ndcg
    qs = list(judged)
    return sum(f(runs.get(q, []), judged[q], k) for q in qs) / len(qs)
