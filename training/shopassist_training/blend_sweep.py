"""Replays the ranking stage's blend (ranking.Ranker: min-max normalised
cross-encoder logit x W + min-max normalised hybrid retrieval score over the
hybrid top 50, the rest in retrieval order) on the features written by
training/tools/dump_rank_features.go, and prints nDCG@10 / nDCG'@10
(judgments.ndcg / ndcg_judged) and the mean number of unjudged products in
the top 10 on the dev judgments and on both halves of
its split (judgments.in_train_split) for a grid of W. It can also

* score the candidates with another cross-encoder checkpoint
  (``--checkpoint``, a rerank_train run folder; PyTorch, float32) instead of
  the committed model's logits in the file, to compare recipes on exactly
  the candidates Go serves;
* report each feature's pairwise accuracy on the judged candidates
  (``--pairwise``): the share of pairs of judged products with different
  ratings, both in the top 50, that the feature orders like the raters;
* fit a linear blend of all features with a listwise loss on one half of
  the split and score it on the other (``--learned``), so a learned
  combination is measured on queries it was not fitted on.

  go run training/tools/dump_rank_features.go training/data/icecat_judgments_dev.csv > artifacts/rank_features.csv
  /usr/bin/python3 -m shopassist_training.blend_sweep --features artifacts/rank_features.csv [--checkpoint RUN] [--pairwise] [--learned]
"""
from __future__ import annotations

import argparse
import csv
import json
import math
from typing import Callable, Dict, List

import torch

from . import bienc_data, judgments

TOP_K = 50  # ranking's default TopK


def read_features(path: str) -> Dict[str, List[dict]]:
    """query -> candidates in hybrid order (hybrid rank 0 = not in the list: last)."""
    out: Dict[str, List[dict]] = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            row = {k: (v if k in ("query", "docid") else float(v)) for k, v in r.items()}
            out.setdefault(r["query"], []).append(row)
    for rows in out.values():
        rows.sort(key=lambda r: r["hybrank"] if r["hybrank"] > 0 else math.inf)
    return out


def minmax(xs: List[float]) -> List[float]:
    lo, hi = min(xs), max(xs)
    return [(x - lo) / (hi - lo) if hi > lo else 0.0 for x in xs]


def rerank(feats, score: Callable[[str, List[dict]], List[float]], topk: int) -> Dict[str, List[str]]:
    """The hybrid list with its top topk reordered by score (ties keep retrieval order)."""
    runs = {}
    for q, rows in feats.items():
        hyb = [r for r in rows if r["hybrank"] > 0]
        head = hyb[:topk]
        s = score(q, head)
        order = sorted(range(len(head)), key=lambda i: (-s[i], i))
        runs[q] = [head[i]["docid"] for i in order] + [r["docid"] for r in hyb[topk:]]
    return runs


def figures(runs, judged) -> dict:
    out = {}
    for name, keep in (("dev", lambda q: True), ("dev_train", judgments.in_train_split),
                       ("dev_holdout", lambda q: not judgments.in_train_split(q))):
        sub = {q: j for q, j in judged.items() if keep(q)}
        unjudged = sum(sum(d not in j for d in runs[q][:10]) for q, j in sub.items()) / len(sub)
        out[name] = [round(judgments.mean_ndcg(runs, sub, condensed=c), 4) for c in (False, True)] + [round(unjudged, 2)]
    return out


def blend(w: float):
    def score(q, rows):
        ce, hyb = minmax([r["ce"] for r in rows]), minmax([r["hybscore"] for r in rows])
        return [w * a + b for a, b in zip(ce, hyb)]
    return score


FEATURES = ("ce", "hybscore", "lexscore", "densescore", "lexlogrank", "denselogrank")


def feature_matrix(rows: List[dict]) -> torch.Tensor:
    """Per-query features of the top-K candidates, each min-max normalised."""
    floor = min((r["densescore"] for r in rows if r["denserank"] > 0), default=0.0)
    cols = [minmax([r["ce"] for r in rows]), minmax([r["hybscore"] for r in rows]),
            minmax([r["lexscore"] for r in rows]),
            minmax([r["densescore"] if r["denserank"] > 0 else floor for r in rows]),
            minmax([-math.log(r["lexrank"] if r["lexrank"] > 0 else 1000) for r in rows]),
            minmax([-math.log(r["denserank"] if r["denserank"] > 0 else 1000) for r in rows])]
    return torch.tensor(list(zip(*cols)), dtype=torch.float32)


def fit_linear(feats, judged, queries, topk: int, steps: int = 300) -> torch.Tensor:
    """Weights minimising a listwise softmax loss whose target is each
    query's gains (2^rating - 1, unjudged 0) over its top-K candidates."""
    data = []
    for q in queries:
        head = [r for r in feats[q] if r["hybrank"] > 0][:topk]
        g = torch.tensor([2.0 ** judged[q].get(r["docid"], 0) - 1 for r in head])
        if g.sum() > 0:
            data.append((feature_matrix(head), g / g.sum()))
    w = torch.zeros(len(FEATURES), requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05)
    for _ in range(steps):
        loss = sum(-(t * torch.log_softmax(5 * (x @ w), 0)).sum() for x, t in data) / len(data) + 1e-3 * (w ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach()


def pairwise_accuracy(feats, judged, topk: int) -> dict:
    keys = ("ce", "hybscore", "lexscore", "densescore")
    ok = {k: 0.0 for k in keys}
    n = 0
    for q, rows in feats.items():
        js = [r for r in rows if 0 < r["hybrank"] <= topk and r["docid"] in judged[q]]
        for a in js:
            for b in js:
                if judged[q][a["docid"]] > judged[q][b["docid"]]:
                    n += 1
                    for k in keys:
                        av = a[k] if k != "densescore" or a["denserank"] > 0 else -math.inf
                        bv = b[k] if k != "densescore" or b["denserank"] > 0 else -math.inf
                        ok[k] += 1.0 if av > bv else 0.5 if av == bv else 0.0
    return {"pairs": n, **{k: round(v / n, 3) for k, v in ok.items()}}


def rescore(feats, run_dir: str, vocab: str, products: str):
    from .rerank_eval import load, score
    from .tokenizer import BertTokenizer
    model, s = load(run_dir)
    tok = BertTokenizer(vocab)
    text = {p["id"]: p["text"] for p in bienc_data.load_products(products)}
    for q, rows in feats.items():
        for r, v in zip(rows, score(model, tok, q, [text[r["docid"]] for r in rows], s["args"]["max_length"], batch=256)):
            r["ce"] = v


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", required=True, help="CSV from training/tools/dump_rank_features.go")
    ap.add_argument("--judgments", default=judgments.DEV)
    ap.add_argument("--checkpoint", default="", help="rerank_train run folder whose logits replace the file's")
    ap.add_argument("--vocab", default="models/reranker/vocab.txt")
    ap.add_argument("--products", default=bienc_data.PRODUCTS_JSONL)
    ap.add_argument("--weights", default="0,0.2,0.3,0.4,0.5,0.6,1", help="cross-encoder weights W to replay")
    ap.add_argument("--topk", type=int, default=TOP_K, help="candidates reranked (ranking TopK)")
    ap.add_argument("--pairwise", action="store_true")
    ap.add_argument("--learned", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    judged = judgments.read(args.judgments)
    feats = read_features(args.features)
    missing = [q for q in judged if q not in feats]
    if missing:
        raise SystemExit(f"{args.features} lacks {len(missing)} judged queries, e.g. {missing[0]!r}")
    feats = {q: feats[q] for q in judged}
    if args.checkpoint:
        rescore(feats, args.checkpoint, args.vocab, args.products)
    res = {"checkpoint": args.checkpoint or "(the file's logits)", "[ndcg@10, ndcg'@10, unjudged@10]": {}}
    for w in (float(x) for x in args.weights.split(",")):
        res["[ndcg@10, ndcg'@10, unjudged@10]"][f"W={w:g}"] = figures(rerank(feats, blend(w), args.topk), judged)
    if args.pairwise:
        res["pairwise_accuracy"] = pairwise_accuracy(feats, judged, args.topk)
    if args.learned:
        train = [q for q in judged if judgments.in_train_split(q)]
        hold = [q for q in judged if not judgments.in_train_split(q)]
        runs = {}
        weights = {}
        for fit_on, apply_to, name in ((train, hold, "fit_on_train"), (hold, train, "fit_on_holdout")):
            w = fit_linear(feats, judged, fit_on, args.topk)
            weights[name] = dict(zip(FEATURES, (round(x, 3) for x in w.tolist())))
            sub = {q: feats[q] for q in apply_to}
            runs.update(rerank(sub, lambda q, rows: (feature_matrix(rows) @ w).tolist(), args.topk))
        res["learned_cross_fitted"] = {"weights": weights, "[ndcg@10, ndcg'@10, unjudged@10]": figures(runs, judged)}
    for k, v in res.items():
        print(json.dumps({k: v}))


if __name__ == "__main__":
    main()
