"""Golden files for the Go side's parity tests.

tokens.jsonl: token ids of >= 1,000 varied strings (no padding).
logits.jsonl: PyTorch (eager) logits of >= 200 utterances, single unpadded sequence.
"""
from __future__ import annotations

import argparse
import json
import os
import random
from typing import List, Optional, Tuple

from . import data
from .tokenizer import BertTokenizer

MODEL_DIR = os.path.join(data.REPO, "models", "intent")

EDGE = [
    "", " ", "   \t\n  ", "\x00", "\ufffd", "a\x00b\ufffdc", "\u200b", "zero\u200bwidth\u200djoiner",
    "soft\u00adhyphen", "del\x7fchar", "bell\x07ring", "tab\tseparated\tvalues", "new\nline\r\nwindows",
    "no\u00a0break\u00a0space", "ideographic\u3000space", "en\u2002em\u2003thin\u2009spaces",
    "LC51C", "lc51c", "Lc51C toner", "$49.95", "€19,99", "£5", "¥1000", "15.6in", "15.6\"", "17\" laptop",
    "43.2 cm (17\")", "2TB HDD", "USB-C to USB-A", "802.11ac", "i7-8700K", "RTX3080", "SM-G991B/DS",
    "dv7-1211ea", "006R90321", "B&W", "AT&T", "50% off!!!", "50%-off", "100+ items", "#1 best seller",
    "e-mail me @ john.doe@example.com", "https://shop.example.com/p/123?x=1&y=2", "C++ / C# books",
    "...", "!!!", "???", "?!?!", "---", "((()))", "[[brackets]]", "{curly}", "<html>", "a/b\\c|d",
    "~tilde~", "`backtick`", "'single'", "\"double\"", "snake_case_word", "under__score", "a_b-c.d,e;f:g",
    "Café", "CAFÉ", "café", "cafe\u0301", "naïve résumé", "Crème Brûlée", "Ångström", "Øresund", "Łódź",
    "straße", "STRASSE", "ẞ", "İstanbul", "ıi", "ﬁne ligature", "Ａｍａｚｏｎ fullwidth", "ⅫⅢ roman",
    "ΟΔΟΣ", "Σίσυφος", "ΣΑΣ ΟΔΟΣ.", "ὈΔΥΣΣΕΎΣ", "Москва", "ПРИВЕТ мир", "مرحبا بالعالم", "שלום עולם",
    "北京欢迎你", "我想买一台笔记本电脑", "价格是多少？", "日本語のテキスト", "カタカナ", "ひらがな", "한국어 텍스트",
    "ไทย", "हिन्दी", "mixed 中文 and English", "价格$49.95元", "𠀀𠀁 ext-b", "豈 compat",
    "😀", "😀😀😀", "great 👍", "👍🏽 thumbs", "❤️ love it", "👨‍👩‍👧 family", "🇺🇸 flag", "✔ done", "★★★★☆",
    "™®©", "°C", "±5%", "½ price", "x²", "µm", "•bullet", "…", "—dash—", "“smart quotes”", "‘single’",
    "«guillemets»", "¿qué?", "¡hola!", "\u0301leading combining", "a\u0308\u0301", "\u2028line sep",
    "\ufeffbom", "\u202eRTL override", "a" * 99, "b" * 100, "c" * 101, "d" * 250, "superlongword" * 10,
    "x " * 200, "word " * 70, "I WANT TO CANCEL MY ORDER!!!", "i want to cancel my order", "I Want To Cancel My Order",
    "iwanttocancelmyorder", "cancle my ordr plz", "wher is my pakage??", "refnud status", "hlep",
    "do you have a 15 inch laptop bag?", "looking for a sofa under $500", "cheap HDMI cable", "Xerox toner",
]
PAIRS = [
    ("", ""), ("a", ""), ("", "b"), ("laptop bag", "Targus 15.6\" Laptop Bag Black"),
    ("cheap hdmi cable", "StarTech.com 2m HDMI cable HDMI Type A (Standard) Black"),
    ("where is my order", "track_order"), ("€19,99 café", "ΣΑΣ ΟΔΟΣ 北京"),
]


def _random_unicode(rng: random.Random) -> str:
    pools = [
        (0x20, 0x7E), (0xA0, 0x17F), (0x370, 0x3FF), (0x400, 0x45F), (0x4E00, 0x4E80), (0x3041, 0x3096),
        (0x30A1, 0x30FA), (0xAC00, 0xAC40), (0x2000, 0x206F), (0x1F600, 0x1F64F), (0x0300, 0x036F),
        (0xFF01, 0xFF5E), (0x2190, 0x21FF),
    ]
    out = []
    for _ in range(rng.randint(1, 30)):
        lo, hi = rng.choice(pools)
        out.append(chr(rng.randint(lo, hi)))
    s = "".join(out)
    # keep only chars assigned in old Unicode versions (Python here has 14.0, Go 15.0)
    import unicodedata
    return "".join(c for c in s if unicodedata.category(c) != "Cn" or c in "\x00")


def golden_strings(seed: int = 5) -> List[Tuple[str, Optional[str], int]]:
    rng = random.Random(seed)
    items: List[Tuple[str, Optional[str], int]] = []
    for s in EDGE:
        items.append((s, None, 64))
    for s in EDGE[::3]:
        items.append((s, None, 8))
    for a, b in PAIRS:
        for ml in (64, 16, 8):
            items.append((a, b, ml))
    # utterances of every source (train and held-out), with augmentation noise
    bit = data.read_bitext()
    clinc = data.read_clinc()
    wands = [q for q, _ in data.read_wands()]
    prods = data.read_catalog()
    titles = [p["title"] for p in prods if p.get("title")]
    descs = [p["short_description"] for p in prods if isinstance(p.get("short_description"), str)]
    for u, y in rng.sample(bit, 200):
        items.append((u, None, 64))
    for u, y in rng.sample(bit, 80):
        items.append((data.augment(u, y, rng), None, 64))
    for u, _ in rng.sample(clinc["val"] + clinc["oos_val"], 120):
        items.append((u, None, 64))
    for q in rng.sample(wands, 80):
        items.append((q, None, 64))
    for t in rng.sample(titles, 150):
        items.append((t, None, rng.choice([64, 64, 32, 16])))
    for d in rng.sample(descs, 60):
        items.append((d, None, 64))
    for d in rng.sample(sorted(descs, key=len)[-200:], 20):
        items.append((d, None, 128))
    for _ in range(100):
        items.append((_random_unicode(rng), None, 64))
    for _ in range(60):
        a = rng.choice(wands + [u for u, _ in bit[:500]])
        b = rng.choice(titles + descs)
        items.append((a, b, rng.choice([64, 32, 24, 12])))
    for _ in range(20):
        items.append((rng.choice(descs), rng.choice(descs), 64))
    return items


def write_tokens(vocab_path: str, out_path: str) -> int:
    tok = BertTokenizer(vocab_path)
    n = 0
    with open(out_path, "w", encoding="utf-8") as f:
        for text, pair, ml in golden_strings():
            enc = tok.encode(text, pair, max_length=ml)
            f.write(json.dumps({"text": text, "text_pair": pair, "max_length": ml, **enc}, ensure_ascii=False) + "\n")
            n += 1
    return n


def logit_utterances(seed: int = 11) -> List[str]:
    """>= 200 mixed utterances, in and out of scope, from the held-out files."""
    rng = random.Random(seed)
    out = []
    for name, k in (("bitext_heldout.csv", 90), ("product_queries_heldout.csv", 40), ("clinc_val.csv", 90)):
        rows = data.read_eval_csv(os.path.join(data.HELDOUT, name))
        out += [u for u, _ in rng.sample(rows, min(k, len(rows)))]
    out += ["hi", "thanks!", "bye", "", "😀", "北京", "x " * 80, "LC51C", "$49.95 15.6in laptop"]
    # the recommend intent (added later; a separate rng keeps the rows above unchanged)
    path = os.path.join(data.HELDOUT, "recommend_heldout.csv")
    if os.path.exists(path):
        rows = data.read_eval_csv(path)
        out += [u for u, _ in random.Random(seed + 1).sample(rows, min(16, len(rows)))]
    out += ["what would you recommend?", "can you recommend a good gaming mouse", "surprise me"]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", action="store_true")
    ap.add_argument("--model-dir", default=MODEL_DIR)
    args = ap.parse_args(argv)
    gdir = os.path.join(args.model_dir, "golden")
    os.makedirs(gdir, exist_ok=True)
    if args.tokens:
        n = write_tokens(os.path.join(args.model_dir, "vocab.txt"), os.path.join(gdir, "tokens.jsonl"))
        print(f"wrote {n} golden token rows")


if __name__ == "__main__":
    main()
