"""Generate the tiny BERT-like ONNX fixtures used by the inference tests.

Run with Debian's python3 (torch + onnx):  /usr/bin/python3 inference/testdata/gen_tiny.py
Writes inference/testdata/tiny/ (with token_type_ids) and tiny_notype/
(without), each: vocab.txt, tokenizer_config.json, config.json, model.onnx,
golden/logits.jsonl ({"input_ids": [...], "logits": [...]}, PyTorch on the
unpadded single sequence). The weights are random; only parity matters.
"""
import json, math, os, random
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [
    "show", "me", "red", "shoes", "under", "$", "49", ".", "95", "where", "is", "my",
    "order", "refund", "please", "lc", "##51", "##c", "cancel", "the", "a", "for",
    "running", "run", "##ning", "cheap", "headphones", "head", "##phones", "!", "?",
    ",", "'", "s", "hello", "hi", "thanks", "talk", "to", "human", "cafe", "blue",
    "size", "10", "##0", "un", "##want", "##ed", "wa", "##nt",
]
LABELS = ["search_product", "order_status", "refund", "greeting", "out_of_scope"]


class TinyBert(nn.Module):
    def __init__(self, vocab, hidden=32, layers=2, heads=4, max_pos=64, labels=5, type_vocab=2):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_pos, hidden)
        self.typ = nn.Embedding(type_vocab, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.heads = heads
        self.layers = nn.ModuleList()
        for _ in range(layers):
            self.layers.append(nn.ModuleDict(dict(
                qkv=nn.Linear(hidden, 3 * hidden), out=nn.Linear(hidden, hidden),
                ln1=nn.LayerNorm(hidden, eps=1e-12), ff1=nn.Linear(hidden, 2 * hidden),
                ff2=nn.Linear(2 * hidden, hidden), ln2=nn.LayerNorm(hidden, eps=1e-12))))
        self.pool = nn.Linear(hidden, hidden)
        self.cls = nn.Linear(hidden, labels)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        b, l = input_ids.shape
        pos = torch.arange(l, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.pos(pos)
        if token_type_ids is not None:
            x = x + self.typ(token_type_ids)
        x = self.ln(x)
        h = self.heads
        d = x.shape[-1] // h
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -1e9
        for m in self.layers:
            q, k, v = m["qkv"](x).split(x.shape[-1], dim=-1)
            q = q.view(b, l, h, d).transpose(1, 2)
            k = k.view(b, l, h, d).transpose(1, 2)
            v = v.view(b, l, h, d).transpose(1, 2)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
            a = (att @ v).transpose(1, 2).reshape(b, l, h * d)
            x = m["ln1"](x + m["out"](a))
            x = m["ln2"](x + m["ff2"](torch.nn.functional.gelu(m["ff1"](x))))
        return self.cls(torch.tanh(self.pool(x[:, 0])))


def write(name, with_types):
    torch.manual_seed(7 if with_types else 11)
    rng = random.Random(3)
    out = os.path.join(HERE, name)
    os.makedirs(os.path.join(out, "golden"), exist_ok=True)
    model = TinyBert(len(VOCAB)).eval()
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    json.dump({"do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": True,
               "model_max_length": 64}, open(os.path.join(out, "tokenizer_config.json"), "w"))
    json.dump({"architectures": ["BertForSequenceClassification"], "model_type": "bert",
               "id2label": {str(i): l for i, l in enumerate(LABELS)},
               "label2id": {l: i for i, l in enumerate(LABELS)},
               "max_position_embeddings": 64, "max_length": 32,
               "oos_label": "out_of_scope", "oos_threshold": 0.3},
              open(os.path.join(out, "config.json"), "w"), indent=1)
    ids = torch.tensor([[2, 5, 6, 3]])
    mask = torch.ones_like(ids)
    names = ["input_ids", "attention_mask"]
    args = (ids, mask)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "logits": {0: "batch"}}
    if with_types:
        names.append("token_type_ids")
        args = (ids, mask, torch.zeros_like(ids))
        axes["token_type_ids"] = {0: "batch", 1: "seq"}
    torch.onnx.export(model, args, os.path.join(out, "model.onnx"), input_names=names,
                      output_names=["logits"], dynamic_axes=axes, opset_version=14)
    with open(os.path.join(out, "golden", "logits.jsonl"), "w") as f:
        for i in range(40):
            n = rng.randint(0, 30)
            seq = [2] + [rng.randrange(5, len(VOCAB)) for _ in range(n)] + [3]
            types = [0] * len(seq)
            if with_types and n > 4 and i % 2:
                cut = rng.randint(2, n - 1)
                seq[cut] = 3
                types = [0] * (cut + 1) + [1] * (len(seq) - cut - 1)
            t = torch.tensor([seq])
            with torch.no_grad():
                a = (t, torch.ones_like(t)) + ((torch.tensor([types]),) if with_types else ())
                logits = model(*a)[0].tolist()
            f.write(json.dumps({"input_ids": seq, "token_type_ids": types, "logits": logits}) + "\n")


write("tiny", True)
write("tiny_notype", False)
