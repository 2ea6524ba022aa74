"""Optional masked-language-model pre-training of the small BERT on the
catalogue text and the training utterances (never the held-out rows).

  /usr/bin/python3 -m shopassist_training.pretrain --layers 2 --hidden 128 --minutes 8 --out ../artifacts/intent/mlm_l2h128.pt
"""
from __future__ import annotations

import argparse
import math
import os
import random
import time

import torch
import torch.nn.functional as F

from . import data
from .model import BertConfig, BertForMaskedLM, seeded_run
from .tokenizer import BertTokenizer
from .vocab import corpus_texts

MAXLEN = 64


def mlm_loop(model: BertForMaskedLM, enc, rng: random.Random, steps: int, max_steps: int = 0, minutes: float = 0,
             batch: int = 128, lr: float = 2e-3, t0: float = 0.0):
    """Masked-LM training of ``model`` on token-id sequences ``enc`` (15 % of
    non-special tokens selected; 80 % [MASK], 10 % random, 10 % kept), AdamW
    with linear warm-up over 5 % and linear decay over ``steps``; batches are
    random length-sorted buckets. Stops early after ``max_steps`` steps or
    ``minutes`` of wall time (counted from ``t0``)."""
    cfg = model.config
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.05, (steps - s) / (steps - warm))))
    V = cfg.vocab_size
    n_special = 5
    # length-sorted buckets for speed
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
    buckets = [order[i:i + batch] for i in range(0, len(order), batch)]
    model.train()
    ema = None
    for step in range(steps):
        b = rng.choice(buckets)
        L = max(len(enc[i]) for i in b)
        ids = torch.zeros((len(b), L), dtype=torch.long)
        mask = torch.zeros((len(b), L), dtype=torch.long)
        for r, i in enumerate(b):
            ids[r, :len(enc[i])] = torch.tensor(enc[i])
            mask[r, :len(enc[i])] = 1
        special = ids < n_special
        prob = torch.full(ids.shape, 0.15)
        sel = torch.bernoulli(prob).bool() & ~special & mask.bool()
        if sel.sum() == 0:
            continue
        labels = ids[sel]
        inp = ids.clone()
        r = torch.rand(ids.shape)
        inp[sel & (r < 0.8)] = 4  # [MASK]
        rnd_sel = sel & (r >= 0.8) & (r < 0.9)
        inp[rnd_sel] = torch.randint(n_special, V, (int(rnd_sel.sum()),))
        h, _ = model.bert(inp, mask, torch.zeros_like(inp))
        hs = model.transform(h[sel])
        logits = hs @ model.bert.embeddings.word_embeddings.weight.t() + model.bias
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 200 == 0:
            print(f"step {step}: mlm loss {ema:.3f} ({time.time()-t0:.0f}s)", flush=True)
        if max_steps and step + 1 >= max_steps:
            print(f"max steps reached at step {step}")
            break
        if minutes and time.time() - t0 > minutes * 60:
            print(f"time budget reached at step {step}")
            break


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", default=os.path.join(data.REPO, "models", "intent", "vocab.txt"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=0)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--minutes", type=float, default=0, help="stop after this wall time (0: run all steps)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (the LR schedule still spans --steps)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    rng = seeded_run(args.seed, args.threads)
    t0 = time.time()
    tok = BertTokenizer(args.vocab)
    cat, utt = corpus_texts()
    # product-query-like text: synthetic queries too (cheap, and close to what the classifier sees)
    wtrain, _ = data.split_wands()
    utt = utt + data.synth_product_queries(data.read_catalog(), wtrain, 20000, seed=99, mlm_v1=True)
    texts = list(dict.fromkeys(cat)) + utt * 2
    enc = [tok.encode(t, max_length=MAXLEN)["input_ids"] for t in texts]
    enc = [e for e in enc if len(e) > 3]
    print(f"mlm corpus: {len(enc)} sequences ({time.time()-t0:.0f}s)", flush=True)
    heads = args.heads or max(2, args.hidden // 64)
    cfg = BertConfig(vocab_size=len(tok.vocab), hidden_size=args.hidden, num_hidden_layers=args.layers,
                     num_attention_heads=heads, intermediate_size=4 * args.hidden, max_position_embeddings=MAXLEN)
    model = BertForMaskedLM(cfg)
    mlm_loop(model, enc, rng, steps=args.steps, max_steps=args.max_steps, minutes=args.minutes, batch=args.batch,
             lr=args.lr, t0=t0)
    sd = {k: v for k, v in model.state_dict().items() if k.startswith("bert.")}
    torch.save(sd, args.out)
    print(f"saved {args.out} ({time.time()-t0:.0f}s)")


if __name__ == "__main__":
    main()
