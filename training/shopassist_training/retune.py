"""Re-tune the OOS threshold and re-evaluate an existing run (updates its summary.json).

  /usr/bin/python3 -m shopassist_training.retune --run ../artifacts/intent/l2h128
"""
import argparse
import json
import os

import torch

from . import data
from .export import load
from .tokenizer import BertTokenizer
from .train import finalize


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--max-false-reject", type=float, default=0.005)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, s = load(args.run)
    tok = BertTokenizer(os.path.join(data.REPO, "models", "intent", "vocab.txt"))
    _, val = data.build_training_set(bitext_mode=s.get("bitext_mode", "grouped"))
    s.update(finalize(model, tok, s["labels"], val, s.get("bitext_mode", "grouped"), args.max_false_reject))
    with open(os.path.join(args.run, "summary.json"), "w") as f:
        json.dump(s, f, indent=1)
    print(json.dumps({k: s[k] for k in ("threshold", "results", "torch_latency_ms_1thread")}, indent=1))


if __name__ == "__main__":
    main()
