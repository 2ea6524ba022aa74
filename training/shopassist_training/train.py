"""Fine-tune the intent classifier (optionally from an MLM-pre-trained encoder).

  /usr/bin/python3 -m shopassist_training.train --layers 2 --hidden 128 --out ../artifacts/intent/l2h128
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import time

import torch
import torch.nn.functional as F

from . import data
from .evaluate import decide, metrics, predict_probs, tune_threshold
from .model import BertConfig, BertForSequenceClassification
from .tokenizer import BertTokenizer

MAXLEN = 64


def set_seed(seed: int):
    random.seed(seed)
    torch.manual_seed(seed)


def batches(encoded, batch_size, rng, pad_id=0):
    """Length-bucketed, shuffled batches padded to the longest in the batch."""
    idx = list(range(len(encoded)))
    rng.shuffle(idx)
    chunk = batch_size * 50
    out = []
    for s in range(0, len(idx), chunk):
        part = sorted(idx[s:s + chunk], key=lambda i: len(encoded[i][0]))
        for b in range(0, len(part), batch_size):
            out.append(part[b:b + batch_size])
    rng.shuffle(out)
    for b in out:
        L = max(len(encoded[i][0]) for i in b)
        ids = torch.full((len(b), L), pad_id, dtype=torch.long)
        mask = torch.zeros((len(b), L), dtype=torch.long)
        y = torch.empty(len(b), dtype=torch.long)
        for r, i in enumerate(b):
            e, lab = encoded[i]
            ids[r, :len(e)] = torch.tensor(e)
            mask[r, :len(e)] = 1
            y[r] = lab
        yield ids, mask, torch.zeros_like(ids), y


def heldout_sets():
    out = {}
    for name in ("bitext_heldout", "bitext_random_heldout", "product_queries_heldout", "product_queries_heldout_wands",
                 "product_queries_heldout_icecat", "clinc_val", "recommend_heldout"):
        path = os.path.join(data.HELDOUT, name + ".csv")
        if os.path.exists(path):
            out[name] = data.read_eval_csv(path)
    return out


def evaluate_all(model, tok, labels, threshold, sets):
    res = {}
    for name, rows in sets.items():
        probs = predict_probs(model, tok, [u for u, _ in rows])
        m = metrics([y for _, y in rows], decide(probs, labels, threshold))
        res[name] = {k: v for k, v in m.items() if k != "per_intent"}
        if name.startswith("product_queries_heldout"):
            res[name]["product_search_rate"] = m["accuracy"]
    return res


def latency(model, tok, n=300):
    """One utterance, PyTorch eager, current torch threads: p50/p99 ms."""
    model.eval()
    e = tok.encode("do you have a 15 inch laptop bag under $50?")
    x = [torch.tensor([e[k]]) for k in ("input_ids", "attention_mask", "token_type_ids")]
    lat = []
    with torch.no_grad():
        for _ in range(30):
            model(*x)
        for _ in range(n):
            t = time.perf_counter()
            model(*x)
            lat.append(time.perf_counter() - t)
    lat.sort()
    return {"p50": round(lat[n // 2] * 1000, 3), "p99": round(lat[int(n * 0.99)] * 1000, 3)}


def finalize(model, tok, labels, val, bitext_mode="grouped", max_false_reject=0.005):
    """Tune the OOS threshold on validation data (CLINC val + in-scope val
    rows, per-group false-reject budget), evaluate every held-out file, time it."""
    model.eval()
    sets = heldout_sets()
    # each Bitext test file is only clean for the model trained on its split
    sets.pop("bitext_random_heldout" if bitext_mode == "grouped" else "bitext_heldout", None)
    clinc = sets["clinc_val"]
    ins_val = [(u, y) for u, y in val if y != data.OOS]
    tune_rows = clinc + ins_val
    # CLINC val's in-scope rows are all small talk: one group with the val small talk
    groups = ["smalltalk"] * len(clinc) + [("product" if y == "product_search" else "smalltalk" if y in ("greeting", "goodbye", "thanks")
                                        else "bitext") for u, y in ins_val]
    probs = predict_probs(model, tok, [u for u, _ in tune_rows])
    th = tune_threshold(probs, [y for _, y in tune_rows], labels, max_false_reject, groups)
    print("threshold:", json.dumps(th), flush=True)
    # note: clinc_val is validation (used for the threshold), not a test set
    res = evaluate_all(model, tok, labels, th["threshold"], sets)
    vt = [u for u, _ in val]
    res["val"] = {k: v for k, v in metrics([y for _, y in val], decide(predict_probs(model, tok, vt), labels, th["threshold"])).items()
                  if k != "per_intent"}
    return {"threshold": th, "results": res, "bitext_mode": bitext_mode, "torch_latency_ms_1thread": latency(model, tok)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", default=os.path.join(data.REPO, "models", "intent", "vocab.txt"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--init", default="", help="MLM pre-trained encoder state dict")
    ap.add_argument("--bitext-mode", default="grouped")
    ap.add_argument("--max-false-reject", type=float, default=0.005)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    set_seed(args.seed)
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()

    tok = BertTokenizer(args.vocab)
    labels = data.LABELS
    lid = {l: i for i, l in enumerate(labels)}
    train, val = data.build_training_set(bitext_mode=args.bitext_mode)
    enc_train = [(tok.encode(u, max_length=MAXLEN)["input_ids"], lid[y]) for u, y in train]
    print(f"data: train {len(train)} val {len(val)} ({time.time()-t0:.1f}s)", flush=True)

    heads = args.heads or max(2, args.hidden // 64)
    cfg = BertConfig(vocab_size=len(tok.vocab), hidden_size=args.hidden, num_hidden_layers=args.layers,
                     num_attention_heads=heads, intermediate_size=4 * args.hidden,
                     max_position_embeddings=MAXLEN, num_labels=len(labels))
    model = BertForSequenceClassification(cfg)
    if args.init:
        sd = torch.load(args.init, map_location="cpu")
        # warm start from a fine-tuned classifier with fewer labels (labels are only ever appended):
        # keep its rows, the new label's row starts as in a fresh model
        for k in ("classifier.weight", "classifier.bias"):
            if k in sd and sd[k].shape[0] < len(labels):
                fresh = model.state_dict()[k].clone()
                fresh[:sd[k].shape[0]] = sd[k]
                sd[k] = fresh
                print(f"init: {k} grown to {len(labels)} labels")
        missing, unexpected = model.load_state_dict(sd, strict=False)
        print(f"init from {args.init}: missing {len(missing)} unexpected {len(unexpected)}")
    nparams = sum(p.numel() for p in model.parameters())
    print(f"model: L={args.layers} H={args.hidden} heads={heads} params={nparams}", flush=True)

    no_decay = ["bias", "LayerNorm.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(nd in n for nd in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=args.lr)
    steps_per_epoch = math.ceil(len(enc_train) / args.batch)
    total = steps_per_epoch * args.epochs
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm))))

    val_texts = [u for u, _ in val]
    val_gold = [y for _, y in val]
    best_acc, best_state, step = -1.0, None, 0
    for ep in range(args.epochs):
        model.train()
        te = time.time()
        tot = 0.0
        for ids, mask, tt, y in batches(enc_train, args.batch, rng):
            loss = F.cross_entropy(model(ids, mask, tt), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            tot += loss.item()
            step += 1
        probs = predict_probs(model, tok, val_texts)
        m = metrics(val_gold, decide(probs, labels, 0.0))
        print(f"epoch {ep+1}: loss {tot/steps_per_epoch:.4f} val acc {m['accuracy']} macro_f1 {m['macro_f1']} "
              f"({time.time()-te:.0f}s)", flush=True)
        if m["accuracy"] >= best_acc:
            best_acc = m["accuracy"]
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    train_s = time.time() - t0

    summary = finalize(model, tok, labels, val, args.bitext_mode, args.max_false_reject)
    summary.update({"config": cfg.to_dict(), "params": nparams, "labels": labels, "train_seconds": round(train_s, 1),
                    "epochs": args.epochs, "lr": args.lr, "seed": args.seed, "init": args.init})
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: summary[k] for k in ("params", "threshold", "results", "train_seconds", "torch_latency_ms_1thread")}, indent=1))


if __name__ == "__main__":
    main()
