"""Contrastive training of the bi-encoder (models/biencoder).

One shared BERT encodes queries and products; a text's vector is the mean
of its last hidden states under the attention mask ([CLS] and [SEP]
included, exactly what retrieval.ONNXEncoder computes from
last_hidden_state with "pooling": "mean"), L2-normalised.

Each step draws ``--batch`` products, ``--queries-per-doc`` pseudo-queries
for each (bienc_data.PseudoQueries), and minimises InfoNCE of every query
against all products of the batch (temperature ``--temperature``). In-batch
products that also answer a query — every content word of the query occurs
in their text (plural-folded), or they share the positive's text — are
masked out of its negatives, so "toner cartridge" is not pushed away from
the other toner cartridges of the batch.

  /usr/bin/python3 -m shopassist_training.bienc_train --vocab models/biencoder/vocab.txt \
      --init artifacts/biencoder/mlm.pt --out artifacts/biencoder/run
"""
from __future__ import annotations

import argparse
import json
import os
import time
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

from . import bienc_data
from .bm25 import BM25
from .model import BertConfig, BertForSequenceClassification, BertModel, seeded_run
from .tokenizer import BertTokenizer


class BiEncoder(nn.Module):
    """BERT encoder whose forward returns last_hidden_state [batch, seq, hidden]
    (state-dict keys bert.*, as in Hugging Face's BertModel under "bert.")."""

    def __init__(self, c: BertConfig):
        super().__init__()
        self.config = c
        self.bert = BertModel(c)
        self.apply(lambda m: BertForSequenceClassification._init(self, m))

    def forward(self, input_ids, attention_mask, token_type_ids):
        h, _ = self.bert(input_ids, attention_mask, token_type_ids)
        return h

    def embed(self, input_ids, attention_mask):
        h = self(input_ids, attention_mask, torch.zeros_like(input_ids))
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        v = (h * m).sum(1) / m.sum(1).clamp(min=1)
        return F.normalize(v, dim=-1)


def pad(seqs: List[List[int]], pad_id: int = 0):
    L = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids, mask


def load_model(run_dir: str):
    """(model, summary) of a bienc_train run folder."""
    s = json.load(open(os.path.join(run_dir, "summary.json")))
    m = BiEncoder(BertConfig(**s["config"]))
    m.load_state_dict(torch.load(os.path.join(run_dir, "model.pt"), map_location="cpu"))
    m.eval()
    return m, s


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--products", default=bienc_data.PRODUCTS_JSONL)
    ap.add_argument("--init", default="", help="MLM state dict (bert.* keys) from bienc_pretrain")
    ap.add_argument("--out", required=True, help="run folder: model.pt, summary.json")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--max-length", type=int, default=40, help="tokens per text (config.json max_length)")
    ap.add_argument("--max-position", type=int, default=64, help="position embeddings (as in the MLM checkpoint)")
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (the LR schedule still spans --steps)")
    ap.add_argument("--minutes", type=float, default=0, help="stop after this wall time (the LR schedule still spans --steps)")
    ap.add_argument("--batch", type=int, default=128, help="products per step")
    ap.add_argument("--queries-per-doc", type=int, default=2)
    ap.add_argument("--temperature", type=float, default=0.05)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--hard-frac", type=float, default=0.0,
                    help="share of each batch filled with BM25 neighbours of the other products' queries (hard negatives)")
    ap.add_argument("--synonyms", type=int, default=1, help="1: swap in bienc_data.SYNONYMS in pseudo-queries")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    rng = seeded_run(args.seed, args.threads)
    t0 = time.time()
    os.makedirs(args.out, exist_ok=True)
    tok = BertTokenizer(args.vocab)
    products = bienc_data.load_products(args.products)
    pq = bienc_data.PseudoQueries(products, synonyms=bool(args.synonyms))
    docs = [tok.encode(p["text"], max_length=args.max_length)["input_ids"] for p in products]
    doc_words = [bienc_data.stem_set(p["text"]) for p in products]
    bm25 = BM25([p["text"] for p in products]) if args.hard_frac > 0 else None
    print(f"{len(products)} products encoded ({time.time()-t0:.0f}s)", flush=True)

    cfg = BertConfig(vocab_size=len(tok.vocab), hidden_size=args.hidden, num_hidden_layers=args.layers,
                     num_attention_heads=max(2, args.hidden // 64), intermediate_size=4 * args.hidden,
                     max_position_embeddings=args.max_position, hidden_dropout_prob=args.dropout,
                     attention_probs_dropout_prob=args.dropout)
    model = BiEncoder(cfg)
    if args.init:
        missing, unexpected = model.load_state_dict(torch.load(args.init, map_location="cpu"), strict=False)
        print(f"init from {args.init} (missing {len(missing)}, unexpected {len(unexpected)})", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (args.steps - s) / (args.steps - warm))))
    model.train()
    Q = args.queries_per_doc
    ema = acc_ema = None
    n_masked = 0
    for step in range(args.steps):
        B = args.batch
        n_hard = int(B * args.hard_frac)
        idx = rng.sample(range(len(products)), B - n_hard)
        queries, pos = [], []
        for j, i in enumerate(list(idx)):
            for _ in range(Q):
                queries.append(pq.sample(i, rng))
                pos.append(j)
            if len(idx) < B:
                # a lexical neighbour that does not answer the seed's first query
                qw = bienc_data.stem_set(queries[-Q])
                near = [h for h, _ in bm25.search(queries[-Q], 20) if h not in idx and not qw <= doc_words[h]]
                if near:
                    idx.append(rng.choice(near))
        for j in range(len(pos) // Q, len(idx)):
            for _ in range(Q):
                queries.append(pq.sample(idx[j], rng))
                pos.append(j)
        B = len(idx)
        qids, qmask = pad([tok.encode(q, max_length=args.max_length)["input_ids"] for q in queries])
        dids, dmask = pad([docs[i] for i in idx])
        # negatives that also answer the query
        fn = torch.zeros((len(queries), B), dtype=torch.bool)
        texts = [products[i]["text"] for i in idx]
        for a, q in enumerate(queries):
            qw = bienc_data.stem_set(q)
            for j, i in enumerate(idx):
                if j != pos[a] and ((qw and qw <= doc_words[i]) or texts[j] == texts[pos[a]]):
                    fn[a, j] = True
        n_masked += int(fn.sum())
        qv = model.embed(qids, qmask)
        dv = model.embed(dids, dmask)
        logits = (qv @ dv.t()) / args.temperature
        logits = logits.masked_fill(fn, -1e4)
        target = torch.tensor(pos)
        loss = F.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        acc = (logits.argmax(1) == target).float().mean().item()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        acc_ema = acc if acc_ema is None else 0.95 * acc_ema + 0.05 * acc
        if step % 50 == 0:
            print(f"step {step}: loss {ema:.3f} in-batch acc {acc_ema:.3f} masked/q {n_masked / ((step + 1) * len(queries)):.1f} "
                  f"lr {sched.get_last_lr()[0]:.2e} ({time.time()-t0:.0f}s)", flush=True)
        if args.max_steps and step + 1 >= args.max_steps:
            break
        if args.minutes and time.time() - t0 > args.minutes * 60:
            print(f"time budget reached at step {step}", flush=True)
            break
    model.eval()
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))
    summary = {"config": cfg.to_dict(), "args": vars(args), "steps_done": step + 1, "final_loss": ema,
               "final_in_batch_acc": acc_ema, "train_seconds": round(time.time() - t0)}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"saved {args.out} ({time.time()-t0:.0f}s)")


if __name__ == "__main__":
    main()
