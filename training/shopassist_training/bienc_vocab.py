"""WordPiece vocabulary of the bi-encoder/reranker (models/biencoder/vocab.txt):
the same trainer as the intent vocabulary (vocab.train_wordpiece), over the
catalogue's product texts (retrieval.ProductText) and synthesised
pseudo-queries (bienc_data.PseudoQueries), so catalogue words and codes
split into few pieces. No dev query is used.

  /usr/bin/python3 -m shopassist_training.bienc_vocab --size 16000 --out models/biencoder/vocab.txt
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import time

from . import bienc_data
from .vocab import count_words, measure, train_wordpiece


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", default=bienc_data.PRODUCTS_JSONL)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=16000)
    ap.add_argument("--queries", type=int, default=60000, help="pseudo-queries added to the corpus")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args(argv)
    t0 = time.time()
    products = bienc_data.load_products(args.products)
    pq = bienc_data.PseudoQueries(products)
    texts = bienc_data.catalogue_vocab_texts(products, pq, args.queries, args.seed)
    wc: collections.Counter = count_words(texts)
    print(f"corpus: {len(texts)} texts, {len(wc)} distinct words ({time.time()-t0:.1f}s)", flush=True)
    vocab = train_wordpiece(wc, args.size)
    sample = [p["text"] for p in products[::20]]
    print(json.dumps({"vocab_size": len(vocab), "catalogue": measure(vocab, sample)}), flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for t in vocab:
            f.write(t + "\n")
    print(f"wrote {args.out}: {len(vocab)} tokens ({time.time()-t0:.1f}s)")


if __name__ == "__main__":
    main()
