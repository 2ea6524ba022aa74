"""Export a trained checkpoint to models/intent: model.onnx, config.json,
golden/logits.jsonl (PyTorch eager, single unpadded sequence)."""
from __future__ import annotations

import argparse
import json
import os

import torch

from . import data
from .golden import logit_utterances
from .model import BertConfig, BertForSequenceClassification
from .tokenizer import BertTokenizer

MODEL_DIR = os.path.join(data.REPO, "models", "intent")


def load(run_dir: str):
    s = json.load(open(os.path.join(run_dir, "summary.json")))
    cfg = BertConfig(**s["config"])
    m = BertForSequenceClassification(cfg)
    m.load_state_dict(torch.load(os.path.join(run_dir, "model.pt"), map_location="cpu"))
    m.eval()
    return m, s


def bert_config(cfg, architecture: str, head: dict = None, tail: dict = None) -> dict:
    """The Hugging Face config.json of a BERT export: model_type and
    architectures, then head's keys, the encoder's shape, then tail's keys
    (in that order, so rebuilds write identical files)."""
    d = {"model_type": "bert", "architectures": [architecture]}
    d.update(head or {})
    d.update({
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "intermediate_size": cfg.intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": cfg.hidden_dropout_prob,
        "attention_probs_dropout_prob": cfg.attention_probs_dropout_prob,
        "max_position_embeddings": cfg.max_position_embeddings,
        "type_vocab_size": cfg.type_vocab_size,
        "layer_norm_eps": cfg.layer_norm_eps,
        "initializer_range": cfg.initializer_range,
        "pad_token_id": 0,
    })
    d.update(tail or {})
    return d


INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model, enc: dict, path: str, output: str, output_axes: dict, opset: int):
    """Exports model to ONNX with Hugging Face input names (batch and
    sequence axes dynamic), traced on the encoding enc twice (batch of 2),
    and checks the file."""
    dummy = tuple(torch.tensor([enc[k], enc[k]]) for k in INPUTS)
    axes = {n: {0: "batch", 1: "seq"} for n in INPUTS}
    axes[output] = output_axes
    torch.onnx.export(model, dummy, path, input_names=list(INPUTS), output_names=[output],
                      dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
    import onnx
    om = onnx.load(path)
    onnx.checker.check_model(om)
    return om


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", default=MODEL_DIR)
    ap.add_argument("--opset", type=int, default=14)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, s = load(args.run)
    cfg = model.config
    labels = s["labels"]
    tok = BertTokenizer(os.path.join(args.out, "vocab.txt"))
    assert len(tok.vocab) == cfg.vocab_size

    e = tok.encode("do you have a 15 inch laptop bag?")
    path = os.path.join(args.out, "model.onnx")
    om = export_onnx(model, e, path, "logits", {0: "batch"}, args.opset)

    config = bert_config(cfg, "BertForSequenceClassification", tail={
        "problem_type": "single_label_classification",
        "id2label": {str(i): l for i, l in enumerate(labels)},
        "label2id": {l: i for i, l in enumerate(labels)},
        "max_length": 64,
        "oos_label": data.OOS,
        "oos_threshold": s["threshold"]["threshold"],
    })
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")

    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": True, "model_max_length": 64}, f)
        f.write("\n")

    gdir = os.path.join(args.out, "golden")
    os.makedirs(gdir, exist_ok=True)
    n = 0
    with torch.no_grad(), open(os.path.join(gdir, "logits.jsonl"), "w", encoding="utf-8") as f:
        for text in logit_utterances():
            e = tok.encode(text, max_length=64)
            x = [torch.tensor([e[k]]) for k in ("input_ids", "attention_mask", "token_type_ids")]
            logits = model(*x)[0].tolist()
            f.write(json.dumps({"text": text, "logits": [round(v, 7) for v in logits]}, ensure_ascii=False) + "\n")
            n += 1
    print(f"exported {path} ({os.path.getsize(path)/1e6:.2f} MB, opset {args.opset}), config.json, {n} golden logits")


if __name__ == "__main__":
    main()
