"""Export a bienc_train run to a model folder read by retrieval.NewONNXEncoder:
model.onnx (inputs input_ids/attention_mask/token_type_ids int64 [batch, seq],
output last_hidden_state float32 [batch, seq, hidden]), config.json ("pooling":
"mean", max_length, ...), tokenizer_config.json, and golden.jsonl
({"text", "vector"}: PyTorch's mean-pooled, L2-normalised vector of the
unpadded text, truncated to max_length) for the Go parity test. vocab.txt must
already be in the folder.

  /usr/bin/python3 -m shopassist_training.bienc_export --run artifacts/biencoder/run --out models/biencoder
"""
from __future__ import annotations

import argparse
import json
import os
import random

import torch

from . import bienc_data
from .bienc_train import load_model
from .export import bert_config, export_onnx
from .tokenizer import BertTokenizer

GOLDEN_QUERIES = [
    "", "a", "hp 61 ink", "black laser printer cartridge for the hp", "usb cable 2 m", "cheap wireless mouse",
    "LC51C", "Café crème", "北京 mixed English", "😀 emoji", "15.6\" notebook case", "x " * 80,
]


def golden_texts(products, n_queries: int = 24, n_docs: int = 24, seed: int = 13):
    rng = random.Random(seed)
    pq = bienc_data.PseudoQueries(products)
    out = list(GOLDEN_QUERIES)
    out += [pq.sample(rng.randrange(len(products)), rng) for _ in range(n_queries)]
    out += [products[rng.randrange(len(products))]["text"] for _ in range(n_docs)]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--products", default=bienc_data.PRODUCTS_JSONL)
    ap.add_argument("--opset", type=int, default=14)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, summary = load_model(args.run)
    cfg = model.config
    max_length = summary["args"]["max_length"]
    tok = BertTokenizer(os.path.join(args.out, "vocab.txt"))
    assert len(tok.vocab) == cfg.vocab_size, (len(tok.vocab), cfg.vocab_size)

    e = tok.encode("hp toner cartridge black")
    path = os.path.join(args.out, "model.onnx")
    export_onnx(model, e, path, "last_hidden_state", {0: "batch", 1: "seq"}, args.opset)

    config = bert_config(cfg, "BertModel", head={"pooling": "mean"}, tail={"max_length": max_length})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": True,
                   "model_max_length": max_length}, f)
        f.write("\n")

    products = bienc_data.load_products(args.products)
    n = 0
    with torch.no_grad(), open(os.path.join(args.out, "golden.jsonl"), "w", encoding="utf-8") as f:
        for text in golden_texts(products):
            ids = torch.tensor([tok.encode(text, max_length=max_length)["input_ids"]])
            v = model.embed(ids, torch.ones_like(ids))[0]
            f.write(json.dumps({"text": text, "vector": v.tolist()}, ensure_ascii=False) + "\n")
            n += 1
    print(f"exported {path} ({os.path.getsize(path)/1e6:.2f} MB, opset {args.opset}), config.json, {n} golden vectors")


if __name__ == "__main__":
    main()
