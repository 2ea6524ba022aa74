"""MLM pre-training of the bi-encoder's BERT on the catalogue: every
product text (retrieval.ProductText, cut into windows of ``--max-length``
tokens) plus synthesised pseudo-queries. Writes the encoder's state dict
(``bert.*`` keys) for bienc_train --init.

  /usr/bin/python3 -m shopassist_training.bienc_pretrain --vocab models/biencoder/vocab.txt --out artifacts/biencoder/mlm.pt
"""
from __future__ import annotations

import argparse
import time

import torch

from . import bienc_data
from .model import BertConfig, BertForMaskedLM, seeded_run
from .pretrain import mlm_loop
from .tokenizer import BertTokenizer


def windows(ids, n: int):
    """[CLS] + ids cut into chunks of n-2 + [SEP] (chunks shorter than 4 dropped unless the first)."""
    body = ids[1:-1]
    out = []
    for s in range(0, max(1, len(body)), n - 2):
        chunk = body[s:s + n - 2]
        if s == 0 or len(chunk) >= 4:
            out.append([ids[0]] + chunk + [ids[-1]])
        if s + n - 2 >= 3 * (n - 2):  # at most three windows per product
            break
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--products", default=bienc_data.PRODUCTS_JSONL)
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (the LR schedule still spans --steps)")
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--queries", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    rng = seeded_run(args.seed, args.threads)
    t0 = time.time()
    tok = BertTokenizer(args.vocab)
    products = bienc_data.load_products(args.products)
    pq = bienc_data.PseudoQueries(products)
    enc = []
    for p in products:
        enc += windows(tok.encode(p["text"], max_length=10_000)["input_ids"], args.max_length)
    enc += [tok.encode(pq.sample(rng.randrange(len(products)), rng), max_length=args.max_length)["input_ids"]
            for _ in range(args.queries)]
    enc = [e for e in enc if len(e) > 3]
    print(f"mlm corpus: {len(enc)} sequences ({time.time()-t0:.0f}s)", flush=True)
    cfg = BertConfig(vocab_size=len(tok.vocab), hidden_size=args.hidden, num_hidden_layers=args.layers,
                     num_attention_heads=max(2, args.hidden // 64), intermediate_size=4 * args.hidden,
                     max_position_embeddings=args.max_length)
    model = BertForMaskedLM(cfg)
    mlm_loop(model, enc, rng, steps=args.steps, max_steps=args.max_steps, minutes=args.minutes, batch=args.batch, lr=args.lr, t0=t0)
    sd = {k: v for k, v in model.state_dict().items() if k.startswith("bert.")}
    torch.save(sd, args.out)
    print(f"saved {args.out} ({time.time()-t0:.0f}s)")


if __name__ == "__main__":
    main()
