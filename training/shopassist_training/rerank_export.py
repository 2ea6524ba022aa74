"""Export a rerank_train run to a model folder loadable by inference.LoadModel:
model.onnx (inputs input_ids/attention_mask/token_type_ids int64 [batch, seq],
output logits float32 [batch, 1]), config.json (BertForSequenceClassification,
num_labels 1, id2label {"0": "relevance"}, max_length), tokenizer_config.json
and golden.jsonl ({"query", "text", "max_length", "input_ids", "token_type_ids",
"score"}: PyTorch's logit of the unpadded pair) for the Go parity test.
vocab.txt must already be in the folder.

  /usr/bin/python3 -m shopassist_training.rerank_export --run artifacts/reranker/run --out models/reranker
"""
from __future__ import annotations

import argparse
import json
import os
import random

import torch

from . import bienc_data
from .export import bert_config, export_onnx
from .rerank_eval import load
from .tokenizer import BertTokenizer

GOLDEN_PAIRS = [
    ("", ""), ("laptop case", ""), ("", "Targus notebook case black"), ("hp 61 ink", "HP 61 Black Original Ink Cartridge"),
    ("Café crème", "北京 ΣΑΣ 😀 mixed"), ("x " * 60, "y " * 60), ("wireless mouse " * 20, "Logitech M185"),
]


def golden_pairs(products, n: int = 60, seed: int = 17):
    rng = random.Random(seed)
    pq = bienc_data.PseudoQueries(products)
    out = list(GOLDEN_PAIRS)
    for _ in range(n):
        i = rng.randrange(len(products))
        j = i if rng.random() < 0.5 else rng.randrange(len(products))
        out.append((pq.sample(i, rng), products[j]["text"]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--products", default=bienc_data.PRODUCTS_JSONL)
    ap.add_argument("--opset", type=int, default=14)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, s = load(args.run)
    cfg = model.config
    max_length = s["args"]["max_length"]
    tok = BertTokenizer(os.path.join(args.out, "vocab.txt"))
    assert len(tok.vocab) == cfg.vocab_size, (len(tok.vocab), cfg.vocab_size)

    e = tok.encode("laptop case", "Targus notebook case black")
    path = os.path.join(args.out, "model.onnx")
    export_onnx(model, e, path, "logits", {0: "batch"}, args.opset)

    config = bert_config(cfg, "BertForSequenceClassification", tail={
        "num_labels": 1,
        "problem_type": "regression",
        "id2label": {"0": "relevance"},
        "label2id": {"relevance": 0},
        "max_length": max_length,
    })
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
        for q, text in golden_pairs(products):
            enc = tok.encode(q, text, max_length=max_length)
            x = [torch.tensor([enc[k]]) for k in ("input_ids", "attention_mask", "token_type_ids")]
            score = model(*x)[0, 0].item()
            f.write(json.dumps({"query": q, "text": text, "max_length": max_length, "input_ids": enc["input_ids"],
                                "token_type_ids": enc["token_type_ids"], "score": round(score, 7)},
                               ensure_ascii=False) + "\n")
            n += 1
    print(f"exported {path} ({os.path.getsize(path)/1e6:.2f} MB, opset {args.opset}), config.json, {n} golden scores")


if __name__ == "__main__":
    main()
