"""Export a tiny random BERT-like cross-encoder to ONNX for the ranking tests.

Usage: /usr/bin/python3 ranking/testdata/make_tiny.py [OUT_DIR [VOCAB HIDDEN LAYERS MAXLEN]]

Default OUT_DIR is ranking/testdata/tiny_crossencoder. It writes vocab.txt,
tokenizer_config.json, config.json (num_labels 1, id2label {"0": "LABEL_0"}
as Hugging Face writes it), model.onnx (input_ids, attention_mask,
token_type_ids -> logits [batch, 1]) and golden.jsonl: {"query", "text",
"input_ids", "score"} where score is PyTorch's logit for the unpadded pair
[CLS] query [SEP] text [SEP], tokenized by the training pipeline's
BertTokenizer (training/shopassist_training/tokenizer.py) with longest-first
truncation to max_length 32, so some rows test truncation and [UNK].

VOCAB (a vocab.txt), HIDDEN, LAYERS and MAXLEN make a bigger random stand-in
of a real cross-encoder for latency benchmarks before models/reranker/
exists (e.g. models/intent/vocab.txt 128 2 128); golden.jsonl is then not
written. The weights are random; only parity with Go matters.
"""
import json, math, os, sys
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "training"))
from shopassist_training.tokenizer import BertTokenizer  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "tiny_crossencoder")
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hp", "61", "ink", "black", "printer",
         "cartridge", "laser", "usb", "cable", "2", "m", "##b", "tb", "disk", "red", "mouse",
         "wireless", "keyboard", "for", "the", "a", "cheap", "-", "head", "##phones", "speaker",
         "bluetooth", "case", "laptop", "with", "and", ",", ".", "colour", "x", "##l"]
HIDDEN, LAYERS, MAXLEN = 16, 1, 32
big = len(sys.argv) > 5
if big:
    VOCAB = [l.rstrip("\n") for l in open(sys.argv[2], encoding="utf-8")]
    HIDDEN, LAYERS, MAXLEN = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
HEADS = 2
MAXPOS = max(64, MAXLEN)


class TinyCrossEncoder(nn.Module):
    """BERT encoder + pooler + one-logit head (BertForSequenceClassification
    with num_labels 1)."""

    def __init__(self):
        super().__init__()
        self.word = nn.Embedding(len(VOCAB), HIDDEN)
        self.pos = nn.Embedding(MAXPOS, HIDDEN)
        self.typ = nn.Embedding(2, HIDDEN)
        self.ln = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.layers = nn.ModuleList()
        for _ in range(LAYERS):
            self.layers.append(nn.ModuleDict(dict(
                qkv=nn.Linear(HIDDEN, 3 * HIDDEN), out=nn.Linear(HIDDEN, HIDDEN),
                ln1=nn.LayerNorm(HIDDEN, eps=1e-12), ff1=nn.Linear(HIDDEN, 4 * HIDDEN),
                ff2=nn.Linear(4 * HIDDEN, HIDDEN), ln2=nn.LayerNorm(HIDDEN, eps=1e-12))))
        self.pool = nn.Linear(HIDDEN, HIDDEN)
        self.cls = nn.Linear(HIDDEN, 1)

    def forward(self, input_ids, attention_mask, token_type_ids):
        b, l = input_ids.shape
        pos = torch.arange(l, device=input_ids.device).unsqueeze(0)
        x = self.ln(self.word(input_ids) + self.pos(pos) + self.typ(token_type_ids))
        d = HIDDEN // HEADS
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -1e9
        for m in self.layers:
            q, k, v = m["qkv"](x).split(HIDDEN, dim=-1)
            q = q.view(b, l, HEADS, d).transpose(1, 2)
            k = k.view(b, l, HEADS, d).transpose(1, 2)
            v = v.view(b, l, HEADS, d).transpose(1, 2)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
            a = (att @ v).transpose(1, 2).reshape(b, l, HIDDEN)
            x = m["ln1"](x + m["out"](a))
            x = m["ln2"](x + m["ff2"](torch.nn.functional.gelu(m["ff1"](x))))
        return self.cls(torch.tanh(self.pool(x[:, 0])))


torch.manual_seed(13)
model = TinyCrossEncoder().eval()
with torch.no_grad():  # wider than PyTorch's defaults, so that the random scores spread
    for name, p in model.named_parameters():
        if p.dim() == 2:
            nn.init.normal_(p, std=0.5)
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(VOCAB) + "\n")
json.dump({"do_lower_case": True, "model_max_length": MAXPOS},
          open(os.path.join(out, "tokenizer_config.json"), "w"))
json.dump({"architectures": ["BertForSequenceClassification"], "model_type": "bert",
           "num_labels": 1, "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
           "max_length": MAXLEN, "max_position_embeddings": MAXPOS, "hidden_size": HIDDEN,
           "num_hidden_layers": LAYERS}, open(os.path.join(out, "config.json"), "w"))
ids = torch.tensor([[2, 5, 3, 6, 3], [2, 7, 3, 8, 3]])
axes = {n: {0: "batch", 1: "seq"} for n in ["input_ids", "attention_mask", "token_type_ids"]}
axes["logits"] = {0: "batch"}
torch.onnx.export(model, (ids, torch.ones_like(ids), torch.tensor([[0, 0, 0, 1, 1]] * 2)),
                  os.path.join(out, "model.onnx"),
                  input_names=["input_ids", "attention_mask", "token_type_ids"],
                  output_names=["logits"], dynamic_axes=axes, opset_version=14)
if big:
    sys.exit(0)

tok = BertTokenizer(vocab={w: i for i, w in enumerate(VOCAB)}, model_max_length=MAXPOS)
queries = ["hp 61 ink", "wireless mouse", "bluetooth speaker", "cheap laptop case", "2tb usb disk",
           "Red HEADPHONES", "black laser printer cartridge for the hp with cable and keyboard",
           "zzz unknown words"]
texts = ["HP 61 black ink cartridge", "wireless mouse, red", "Bluetooth speaker with USB cable",
         "laptop case for the 2 m cable", "2 TB USB disk", "headphones", "a",
         "Laser printer - black - for the hp 61 ink cartridge and the wireless keyboard, "
         "with a usb cable and a red mouse and a laptop case and bluetooth speaker",
         "Colour XL ink cartridge (HP), 2 m", "ünïcode café headphones"]
with open(os.path.join(out, "golden.jsonl"), "w", encoding="utf-8") as f:
    for qi, q in enumerate(queries):
        for ti, t in enumerate(texts):
            if (qi + ti) % 3 and qi < 6:
                continue  # keep the fixture small: a third of the grid, all rows of the long queries
            e = tok.encode(q, t, max_length=MAXLEN)
            x = torch.tensor([e["input_ids"]])
            with torch.no_grad():
                s = model(x, torch.ones_like(x), torch.tensor([e["token_type_ids"]]))[0, 0].item()
            f.write(json.dumps({"query": q, "text": t, "input_ids": e["input_ids"], "score": s}) + "\n")
