"""Cross-encoder reranker (models/reranker): BertForSequenceClassification with
one output, input [CLS] query [SEP] product text [SEP] (token types 0/1,
longest-first truncation to --max-length, as inference.Tokenizer.EncodePair),
trained on weak labels from the catalogue:

* queries: bienc_data.PseudoQueries of random products (the "source");
* candidates per query: the source, BM25 neighbours of the query (hard
  negatives and other matches) and random products;
* graded label (``Labeler``, on the query before its synonym swap and typo):
  1 / 0.5 / 0.4 / 0 for a match of words and product type / words only (an
  accessory, or words only in the description) / same type, other brand or
  colour / nothing.

Loss: listwise softmax cross-entropy over each query's group (target ∝ label)
+ pointwise binary cross-entropy on the label, so sigmoid(logit) reads as a
relevance probability. With --dev-train the judged pairs of
data/icecat_judgments_dev_train.csv are added (label = rating / 3); the
holdout file is never read here. Measured alternatives, none better on the
dev judgments (BENCHMARKS.md, "Nine more recipes"): --partial-label (the 0.5
above) and --distill (a listwise term toward the bi-encoder's scores of each
group, --teacher, default the folder of --init).

  /usr/bin/python3 -m shopassist_training.rerank_train --vocab models/reranker/vocab.txt \
      --init artifacts/biencoder/l2h128/model.pt --out artifacts/reranker/run
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
from typing import Dict, List, Optional, Set

import torch
import torch.nn.functional as F

from . import bienc_data, judgments
from .bm25 import BM25
from .model import BertConfig, BertForSequenceClassification, seeded_run
from .tokenizer import BertTokenizer


def content(q: str) -> Set[str]:
    return {w for w in bienc_data.stem_set(q) if w not in bienc_data.STOP}


class Labeler:
    """Graded weak label of (query, product) for a query drawn from product ``src``:

    * 1.0: the source; or every content word of the query is in the product's
      brand/title/name and, when the query names a product type (contains the
      head noun of some catalogue product-type phrase, e.g. "printer"), the
      product's own type has that head ("laser printer" yes, "printer cable" no);
    * 0.5: all the query's words occur (title or text) but the product is of
      another type (an accessory: "printer cable" for "printer"), or they occur
      only in its description;
    * 0.4: same product type as the source when the query names that type
      (another brand, colour, size, ...);
    * 0.0: otherwise.
    """

    def __init__(self, products: List[dict], types: List[Optional[str]], partial: float = 0.5):
        self.partial = partial
        self.types = types
        # head noun of the product's type, only where the type is the phrase right after the
        # model name (bienc_data.product_types' first choice; its fallback is a guess)
        self.heads = [bienc_data.stem(t.split()[-1]) if t and t == bienc_data.first_type_phrase(p) else None
                      for p, t in zip(products, types)]
        self.all_heads = {h for h in self.heads if h}
        self.title = [bienc_data.stem_set(" ".join((p.get("brand") or "", p.get("title") or "", p.get("name") or "")))
                      for p in products]
        self.text = [bienc_data.stem_set(p["text"]) for p in products]

    def __call__(self, q: str, qw: Set[str], src: int, i: int) -> float:
        if i == src:
            return 1.0
        t = self.types[src]
        if qw and qw <= self.text[i]:
            names_type = bool(qw & self.all_heads)
            type_ok = not names_type or (self.heads[i] in qw if self.heads[i] else True)
            if qw <= self.title[i] and type_ok:
                return 1.0
            return self.partial
        if t and self.types[i] == t and content(t) <= qw:
            return 0.4
        return 0.0


def listwise(logits: torch.Tensor, target: torch.Tensor, sizes: List[int]) -> torch.Tensor:
    """Sum over consecutive groups of ``sizes`` of the softmax cross-entropy
    between the group's logits and its non-negative targets normalised to
    sum 1 (groups whose targets are all 0 are skipped)."""
    loss = logits.new_zeros(())
    a = 0
    for n in sizes:
        t = target[a:a + n]
        if t.sum() > 0:
            loss = loss - (t / t.sum() * F.log_softmax(logits[a:a + n], 0)).sum()
        a += n
    return loss


def encode_pair(tok: BertTokenizer, q: str, doc: str, max_length: int) -> List[int]:
    return tok.encode(q, doc, max_length=max_length)["input_ids"]


def batch_tensors(seqs: List[List[int]], sep_id: int):
    """Pads pair encodings; token types are 1 after the first [SEP]."""
    L = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), L), dtype=torch.long)
    mask = torch.zeros_like(ids)
    types = torch.zeros_like(ids)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = torch.tensor(s)
        mask[r, :len(s)] = 1
        first = s.index(sep_id)
        types[r, first + 1:len(s)] = 1
    return ids, mask, types


def build_groups(products, pq, labeler, bm25, n_queries, group, rng):
    """[(query, [product index], [label])] with the source first."""
    groups = []
    n = len(products)
    for _ in range(n_queries):
        src = rng.randrange(n)
        q, canonical = pq.sample_with_canonical(src, rng)
        qw = content(canonical)
        cands = [i for i, _ in bm25.search(canonical, 40) if i != src]
        n_hard = min(len(cands), (group - 1) * 3 // 4)
        chosen = rng.sample(cands, n_hard)
        while len(chosen) < group - 1:
            i = rng.randrange(n)
            if i != src and i not in chosen:
                chosen.append(i)
        idx = [src] + chosen
        groups.append((q, idx, [labeler(q, qw, src, i) for i in idx]))
    return groups


def dev_groups(path: str, id2idx: Dict[str, int], group: int, rng: random.Random, repeats: int):
    """Judged pairs of one dev split as groups of ``group`` (label rating/3),
    each group holding the query's products in random order."""
    out = []
    for q, judged in judgments.read(path).items():
        items = [(id2idx[d], r / 3) for d, r in judged.items() if d in id2idx]
        for _ in range(repeats):
            rng.shuffle(items)
            for s in range(0, len(items), group):
                chunk = items[s:s + group]
                if len(chunk) > 1 and any(l > 0 for _, l in chunk):
                    out.append((q, [i for i, _ in chunk], [l for _, l in chunk]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--products", default=bienc_data.PRODUCTS_JSONL)
    ap.add_argument("--init", default="", help="state dict with bert.* keys (MLM or bi-encoder) to start from")
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--max-length", type=int, default=40)
    ap.add_argument("--max-position", type=int, default=64)
    ap.add_argument("--queries", type=int, default=16000)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32, help="groups per step")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--bce", type=float, default=1.0, help="weight of the pointwise BCE term")
    ap.add_argument("--partial-label", type=float, default=0.5,
                    help="label of a product holding every query word but of another type, or only in its description")
    ap.add_argument("--distill", type=float, default=0.0,
                    help="weight of a listwise term pulling each group's scores toward the bi-encoder's (--teacher)")
    ap.add_argument("--teacher", default="", help="bienc_train run folder (default: the folder of --init)")
    ap.add_argument("--teacher-temperature", type=float, default=0.05)
    ap.add_argument("--dev-train", action="store_true", help="also train on data/icecat_judgments_dev_train.csv")
    ap.add_argument("--dev-repeats", type=int, default=8, help="shuffled passes over each dev-train query's judged products")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    rng = seeded_run(args.seed, args.threads)
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)
    tok = BertTokenizer(args.vocab)
    products = bienc_data.load_products(args.products)
    pq = bienc_data.PseudoQueries(products)
    labeler = Labeler(products, pq.types, args.partial_label)
    bm25 = BM25([p["text"] for p in products])
    groups = build_groups(products, pq, labeler, bm25, args.queries, args.group, rng)
    n_weak = len(groups)
    if args.dev_train:
        id2idx = {p["id"]: i for i, p in enumerate(products)}
        groups += dev_groups(judgments.DEV_TRAIN, id2idx, args.group, rng, args.dev_repeats)
    labels = [l for g in groups for l in g[2]]
    print(f"{n_weak} weak groups + {len(groups) - n_weak} dev-train groups; label mean {sum(labels)/len(labels):.3f}, "
          f"share >0 {sum(l > 0 for l in labels)/len(labels):.3f} ({time.time()-t0:.0f}s)", flush=True)

    cfg = BertConfig(vocab_size=len(tok.vocab), hidden_size=args.hidden, num_hidden_layers=args.layers,
                     num_attention_heads=max(2, args.hidden // 64), intermediate_size=4 * args.hidden,
                     max_position_embeddings=args.max_position, num_labels=1)
    model = BertForSequenceClassification(cfg)
    if args.init:
        sd = torch.load(args.init, map_location="cpu")
        sd = {k: v for k, v in sd.items() if k.startswith("bert.")}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        print(f"init from {args.init}: missing {missing}, unexpected {len(unexpected)}", flush=True)
    steps = int(len(groups) * args.epochs / args.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
    sep = tok.vocab["[SEP]"]
    texts = [p["text"] for p in products]
    teacher = None
    if args.distill > 0:
        from .bienc_train import load_model, pad
        teacher, ts = load_model(args.teacher or os.path.dirname(args.init))
        t_len = ts["args"]["max_length"]
    model.train()
    order = []
    ema = None
    step = 0
    for step in range(steps):
        if not order:
            order = list(range(len(groups)))
            rng.shuffle(order)
        gs = [groups[order.pop()] for _ in range(min(args.batch, len(order)))]
        seqs, lab, sizes = [], [], []
        for q, idx, ls in gs:
            seqs += [encode_pair(tok, q, texts[i], args.max_length) for i in idx]
            lab += ls
            sizes.append(len(idx))
        ids, mask, types = batch_tensors(seqs, sep)
        logits = model(ids, mask, types)[:, 0]
        y = torch.tensor(lab)
        loss = listwise(logits, y, sizes) / len(gs) + args.bce * F.binary_cross_entropy_with_logits(logits, y)
        if teacher is not None:
            with torch.no_grad():
                qv = teacher.embed(*pad([tok.encode(q, max_length=t_len)["input_ids"] for q, _, _ in gs]))
                dv = teacher.embed(*pad([tok.encode(texts[i], max_length=t_len)["input_ids"] for _, idx, _ in gs for i in idx]))
                qv = torch.repeat_interleave(qv, torch.tensor(sizes), 0)
                soft = torch.exp((dv * qv).sum(-1) / args.teacher_temperature)
            loss = loss + args.distill * listwise(logits, soft, sizes) / len(gs)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % 50 == 0:
            print(f"step {step}/{steps}: loss {ema:.3f} lr {sched.get_last_lr()[0]:.2e} ({time.time()-t0:.0f}s)", flush=True)
        if args.minutes and time.time() - t0 > args.minutes * 60:
            print(f"time budget reached at step {step}", flush=True)
            break
    model.eval()
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))
    summary = {"config": cfg.to_dict(), "args": vars(args), "steps_done": step + 1, "steps_planned": steps,
               "final_loss": ema, "train_seconds": round(time.time() - t0), "weak_groups": n_weak,
               "dev_train_groups": len(groups) - n_weak, "labels": ["relevance"]}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"saved {args.out} ({time.time()-t0:.0f}s)")


if __name__ == "__main__":
    main()
