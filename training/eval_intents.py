#!/usr/bin/env python3
"""Evaluate the intent model on a CSV (columns utterance,intent) and print JSON:
accuracy, macro_f1, per_intent, oos_recall, in_scope_false_reject, n.

  /usr/bin/python3 training/eval_intents.py --data training/data/heldout/bitext_heldout.csv
  [--run artifacts/intent/<run>]   PyTorch checkpoint (default: the run models/intent was exported from)
  [--onnx]                         run models/intent/model.onnx with onnxruntime (if installed)
  [--errors N]                     also list N misclassified rows on stderr

The decision rule is the Go one: argmax label, out_of_scope when the max
softmax probability < config.json's oos_threshold.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from shopassist_training import data  # noqa: E402
from shopassist_training.evaluate import decide, metrics, predict_probs  # noqa: E402
from shopassist_training.tokenizer import BertTokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model-dir", default=os.path.join(data.REPO, "models", "intent"))
    ap.add_argument("--run", default="")
    ap.add_argument("--onnx", action="store_true")
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--errors", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = json.load(open(os.path.join(args.model_dir, "config.json")))
    labels = [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))]
    th = cfg["oos_threshold"] if args.threshold is None else args.threshold
    tok = BertTokenizer(os.path.join(args.model_dir, "vocab.txt"))
    rows = data.read_eval_csv(args.data)
    texts = [u for u, _ in rows]
    if args.onnx:
        import numpy as np
        import onnxruntime as ort
        sess = ort.InferenceSession(os.path.join(args.model_dir, "model.onnx"))
        probs = []
        for t in texts:
            e = tok.encode(t, max_length=cfg.get("max_length", 64))
            feed = {k: np.array([e[k]], dtype=np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
            probs.append(torch.softmax(torch.tensor(sess.run(["logits"], feed)[0][0]), -1))
        probs = torch.stack(probs)
    else:
        from shopassist_training.export import load
        run = args.run
        if not run:
            src = os.path.join(args.model_dir, "SOURCE_RUN")
            run = open(src).read().strip() if os.path.exists(src) else ""
            run = os.path.join(data.REPO, run)
        model, _ = load(run)
        probs = predict_probs(model, tok, texts, max_length=cfg.get("max_length", 64))
    pred = decide(probs, labels, th)
    gold = [y for _, y in rows]
    print(json.dumps(metrics(gold, pred), indent=1))
    if args.errors:
        conf = probs.max(-1).values.tolist()
        bad = [(g, p, c, u) for (u, g), p, c in zip(rows, pred, conf) if g != p]
        for g, p, c, u in bad[: args.errors]:
            print(f"{g:>26} -> {p:<26} {c:.2f} {u}", file=sys.stderr)


if __name__ == "__main__":
    main()
