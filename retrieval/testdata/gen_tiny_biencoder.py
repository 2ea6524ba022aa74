"""Export a tiny random BERT-like bi-encoder to ONNX for the encoder tests.

Usage: /usr/bin/python3 gen_tiny_biencoder.py OUT_DIR POOLING [OUTPUT [VOCAB HIDDEN LAYERS]]
POOLING is "mean" or "cls" (written to config.json); OUTPUT is
"last_hidden_state" (default) or "sentence_embedding" (pooled in the graph).
VOCAB (a vocab.txt), HIDDEN and LAYERS make a bigger random stand-in of a
real bi-encoder for latency benchmarks (e.g. models/intent/vocab.txt 128 2,
the intent model's shape); golden.jsonl is then not written.
Writes vocab.txt, tokenizer_config.json, config.json, model.onnx and
golden.jsonl ({"text", "vector"}: PyTorch's pooled, L2-normalised vector of
the unpadded text). The weights are random; only parity with Go matters.
"""
import json, math, os, sys
import torch
from torch import nn

out, pooling = sys.argv[1], sys.argv[2]
output = sys.argv[3] if len(sys.argv) > 3 else "last_hidden_state"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hp", "61", "ink", "black", "printer",
         "cartridge", "laser", "usb", "cable", "2", "m", "##b", "tb", "disk", "red", "mouse",
         "wireless", "keyboard", "for", "the", "a", "cheap", "-"]
HIDDEN, LAYERS = 24, 1
if len(sys.argv) > 6:
    VOCAB = [l.rstrip("\n") for l in open(sys.argv[4], encoding="utf-8")]
    HIDDEN, LAYERS = int(sys.argv[5]), int(sys.argv[6])


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.word = nn.Embedding(len(VOCAB), HIDDEN)
        self.pos = nn.Embedding(64, HIDDEN)
        self.typ = nn.Embedding(2, HIDDEN)
        self.ln = nn.LayerNorm(HIDDEN)
        self.att = nn.ModuleList([nn.MultiheadAttention(HIDDEN, 4, batch_first=True) for _ in range(LAYERS)])
        self.ff1 = nn.ModuleList([nn.Linear(HIDDEN, 4 * HIDDEN) for _ in range(LAYERS)])
        self.ff2 = nn.ModuleList([nn.Linear(4 * HIDDEN, HIDDEN) for _ in range(LAYERS)])

    def hidden(self, ids, mask, types):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.ln(self.word(ids) + self.pos(pos) + self.typ(types))
        for att, f1, f2 in zip(self.att, self.ff1, self.ff2):
            a, _ = att(x, x, x, key_padding_mask=(mask == 0), need_weights=False)
            x = x + a
            x = x + f2(torch.nn.functional.gelu(f1(x)))
        return x

    def forward(self, ids, mask, types):
        h = self.hidden(ids, mask, types)
        if output == "last_hidden_state":
            return h
        if pooling == "cls":
            return h[:, 0]
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1)


torch.manual_seed(5)
model = Tiny().eval()
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "vocab.txt"), "w").write("\n".join(VOCAB) + "\n")
json.dump({"do_lower_case": True, "model_max_length": 64}, open(os.path.join(out, "tokenizer_config.json"), "w"))
json.dump({"model_type": "bert", "pooling": pooling, "max_length": 32, "max_position_embeddings": 64,
           "hidden_size": HIDDEN}, open(os.path.join(out, "config.json"), "w"))
ids = torch.tensor([[2, 5, 6, 3], [2, 7, 3, 0]])
mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
axes = {n: {0: "batch", 1: "seq"} for n in ["input_ids", "attention_mask", "token_type_ids"]}
axes[output] = {0: "batch", 1: "seq"} if output == "last_hidden_state" else {0: "batch"}
torch.onnx.export(model, (ids, mask, torch.zeros_like(ids)), os.path.join(out, "model.onnx"),
                  input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=[output],
                  dynamic_axes=axes, opset_version=14)
if len(sys.argv) > 6:
    sys.exit(0)
texts = ["hp 61 ink", "black laser printer cartridge for the hp", "usb cable 2 m",
         "cheap wireless mouse", "red keyboard", "2 tb disk", "a"]
tok = {w: i for i, w in enumerate(VOCAB)}
with open(os.path.join(out, "golden.jsonl"), "w") as f:
    for t in texts:
        seq = [2]
        for w in t.split():
            seq.append(tok[w])  # every test word is a whole vocabulary entry
        seq.append(3)
        x = torch.tensor([seq])
        with torch.no_grad():
            h = model.hidden(x, torch.ones_like(x), torch.zeros_like(x))[0]
        v = h[0] if pooling == "cls" else h.mean(0)
        v = v / v.norm()
        f.write(json.dumps({"text": t, "vector": v.tolist()}) + "\n")
