"""Metrics shared by training and eval_intents.py (the Go `assistant eval
intents` computes the same JSON)."""
from __future__ import annotations

from typing import Dict, List, Sequence

import torch

OOS = "out_of_scope"


def metrics(gold: Sequence[str], pred: Sequence[str]) -> dict:
    n = len(gold)
    acc = sum(g == p for g, p in zip(gold, pred)) / max(1, n)
    labels = sorted(set(gold) | set(pred))
    gold_labels = set(gold)
    per = {}
    f1s = []
    f1s_union = []
    for l in labels:
        tp = sum(g == l and p == l for g, p in zip(gold, pred))
        fp = sum(g != l and p == l for g, p in zip(gold, pred))
        fn = sum(g == l and p != l for g, p in zip(gold, pred))
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * pr * rc / (pr + rc) if pr + rc else 0.0
        per[l] = {"precision": round(pr, 4), "recall": round(rc, 4), "f1": round(f1, 4), "support": tp + fn}
        f1s_union.append(f1)
        if l in gold_labels:
            f1s.append(f1)
    oos_gold = [p for g, p in zip(gold, pred) if g == OOS]
    ins_gold = [p for g, p in zip(gold, pred) if g != OOS]
    return {
        "n": n,
        "accuracy": round(acc, 4),
        # macro over the labels present in the gold column (a wrong prediction of
        # another label still lowers that gold label's recall and the other's precision)
        "macro_f1": round(sum(f1s) / max(1, len(f1s)), 4),
        # sklearn's default: macro over labels in gold or predictions
        "macro_f1_all_labels": round(sum(f1s_union) / max(1, len(f1s_union)), 4),
        "oos_recall": round(sum(p == OOS for p in oos_gold) / len(oos_gold), 4) if oos_gold else None,
        "in_scope_false_reject": round(sum(p == OOS for p in ins_gold) / len(ins_gold), 4) if ins_gold else None,
        "per_intent": per,
    }


@torch.no_grad()
def predict_probs(model, tok, texts: List[str], max_length: int = 64, batch_size: int = 128) -> torch.Tensor:
    model.eval()
    out = []
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for s in range(0, len(texts), batch_size):
        idx = order[s:s + batch_size]
        enc = tok.batch_encode([texts[i] for i in idx], max_length=max_length)
        ids = torch.tensor(enc["input_ids"])
        logits = model(ids, torch.tensor(enc["attention_mask"]), torch.tensor(enc["token_type_ids"]))
        out.append((idx, torch.softmax(logits.float(), -1)))
    probs = torch.zeros(len(texts), out[0][1].shape[1]) if out else torch.zeros(0, 1)
    for idx, p in out:
        probs[idx] = p
    return probs


def decide(probs: torch.Tensor, labels: List[str], threshold: float) -> List[str]:
    conf, arg = probs.max(-1)
    return [OOS if c < threshold else labels[a] for c, a in zip(conf.tolist(), arg.tolist())]


def tune_threshold(probs: torch.Tensor, gold: List[str], labels: List[str], max_false_reject: float = 0.015,
                   groups: List[str] = None) -> dict:
    """The threshold with the best OOS recall on the tuning rows (CLINC val +
    in-scope validation rows) among those that add at most ``max_false_reject``
    in-scope rejections in every group (Bitext, product queries, small talk)
    over the argmax alone; ties: higher accuracy, then the lower threshold."""
    best = {"threshold": 0.0}
    best_key = None
    groups = groups or ["all"] * len(gold)
    base = None
    for t100 in range(0, 100):
        t = t100 / 100
        pred = decide(probs, labels, t)
        m = metrics(gold, pred)
        fr = {}
        for g in set(groups):
            ins = [p for p, y, gg in zip(pred, gold, groups) if gg == g and y != OOS]
            if ins:
                fr[g] = sum(p == OOS for p in ins) / len(ins)
        if base is None:
            base = fr  # rejections made by the argmax itself (threshold 0)
        # the threshold may add at most max_false_reject rejections in every group
        if any(fr[g] - base[g] > max_false_reject for g in fr):
            continue
        key = (m["oos_recall"] or 0, m["accuracy"], -t)
        if best_key is None or key > best_key:
            best_key = key
            best = {"threshold": t, "oos_recall": m["oos_recall"], "in_scope_false_reject": m["in_scope_false_reject"],
                    "accuracy": m["accuracy"]}
    return best
