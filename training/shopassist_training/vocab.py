"""WordPiece vocabulary builder (the BPE-style trainer Hugging Face's
``tokenizers`` WordPieceTrainer uses): words are pre-tokenised with the same
BasicTokenizer as inference, split into characters (continuations prefixed
"##"), and the most frequent adjacent pair is merged until the vocabulary
reaches the target size. Ties are broken lexicographically, so the result is
deterministic.

Layout of vocab.txt: [PAD]=0, [UNK], [CLS], [SEP], [MASK], then every single
char (alphabet) and its "##" form, then merged tokens in merge order.
"""
from __future__ import annotations

import argparse
import collections
import heapq
import json
import os
import sys
import time
import unicodedata
from typing import Dict, Iterable, List

from .tokenizer import SPECIAL_TOKENS, BasicTokenizer, BertTokenizer


def count_words(texts: Iterable[str]) -> collections.Counter:
    bt = BasicTokenizer()
    c: collections.Counter = collections.Counter()
    for t in texts:
        c.update(bt.tokenize(t))
    return c


def _base_alphabet() -> List[str]:
    """Chars that must never become [UNK] even if rare in the corpus."""
    bt = BasicTokenizer()
    chars = set()
    for cp in list(range(33, 127)) + list(range(0xA1, 0x250)) + list(range(0x370, 0x400)) + list(range(0x400, 0x460)):
        ch = chr(cp)
        for t in bt.tokenize(ch):
            chars.update(t)
    for ch in "€£¥₹©®™°±×÷µ¢•…–—‘’“”«»¿¡½¼¾²³":
        for t in bt.tokenize(ch):
            chars.update(t)
    for ch in "😀😂😊😍👍🙏❤😢😡🔥✨🎉👋😉🙂😞🤔👌💯🛒📦🚚💳":
        chars.add(ch)
    return sorted(chars)


# Common CJK ideographs (whole tokens only: BasicTokenizer isolates them) and kana.
COMMON_HANZI = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黑断线店买价钱货购物车包鞋衣服电脑手机谢您吗")
KANA = [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x30A1, 0x30FB)] + ["ー"]


def train_wordpiece(word_counts: Dict[str, int], vocab_size: int, min_char_count: int = 2,
                    max_word_len: int = 100) -> List[str]:
    alphabet = set(_base_alphabet())
    char_counts: collections.Counter = collections.Counter()
    for w, n in word_counts.items():
        for ch in w:
            char_counts[ch] += n
    alphabet.update(ch for ch, n in char_counts.items() if n >= min_char_count)
    alphabet = sorted(alphabet)
    vocab = list(SPECIAL_TOKENS)
    for ch in alphabet:
        vocab.append(ch)
    for ch in alphabet:
        vocab.append("##" + ch)
    for ch in KANA:
        if ch not in alphabet:
            vocab += [ch, "##" + ch]
    for ch in dict.fromkeys(COMMON_HANZI):
        if ch not in alphabet:
            vocab.append(ch)
    vset = set(vocab)

    words = []
    counts = []
    for w, n in sorted(word_counts.items()):
        if len(w) > max_word_len or any(ch not in char_counts or ch not in set(alphabet) for ch in w):
            continue
        words.append([w[0]] + ["##" + ch for ch in w[1:]])
        counts.append(n)
    alpha_set = set(alphabet)

    pair_counts: Dict[tuple, int] = collections.defaultdict(int)
    where: Dict[tuple, set] = collections.defaultdict(set)
    for i, (sym, n) in enumerate(zip(words, counts)):
        for a, b in zip(sym, sym[1:]):
            pair_counts[(a, b)] += n
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)

    def merged(a, b):
        return a + (b[2:] if b.startswith("##") else b)

    while len(vocab) < vocab_size and heap:
        negc, pair = heapq.heappop(heap)
        cur = pair_counts.get(pair, 0)
        if cur <= 0:
            continue
        if -negc != cur:
            heapq.heappush(heap, (-cur, pair))
            continue
        a, b = pair
        new = merged(a, b)
        if new not in vset:
            vocab.append(new)
            vset.add(new)
        changed = collections.defaultdict(int)
        for i in list(where[pair]):
            sym, n = words[i], counts[i]
            j = 0
            out = []
            while j < len(sym):
                if j + 1 < len(sym) and sym[j] == a and sym[j + 1] == b:
                    out.append(new)
                    j += 2
                else:
                    out.append(sym[j])
                    j += 1
            if len(out) == len(sym):
                continue
            for p in zip(sym, sym[1:]):
                pair_counts[p] -= n
                changed[p] -= n
            for p in zip(out, out[1:]):
                pair_counts[p] += n
                changed[p] += n
                where[p].add(i)
            words[i] = out
        pair_counts.pop(pair, None)
        where.pop(pair, None)
        for p, d in changed.items():
            if d > 0 and pair_counts.get(p, 0) > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
    return vocab


def corpus_texts():
    """Returns (catalogue_texts, utterance_texts)."""
    from . import data
    products = data.read_catalog()
    cat = list(data.catalog_texts(products))
    texts = []
    bit_train, _ = data.split_bitext()
    texts += [u for u, _ in bit_train]
    c = data.read_clinc()
    texts += [u for u, _ in c["train"] + c["oos_train"]]
    wtrain, _ = data.split_wands()
    texts += wtrain
    texts += data._split(data.FURNITURE) + data._split(data.ELECTRONICS) + data._split(data.APPAREL)
    texts += data._split(data.MODIFIERS) + data._split(data.GREETINGS) + data._split(data.GOODBYES) + data._split(data.THANKS)
    return cat, texts


def weighted_counts(cat: List[str], utt: List[str]) -> collections.Counter:
    """Utterance/query words weigh 10, catalogue words 2, catalogue codes
    (words mixing digits and letters, e.g. "bx80532kc") 1: the classifier
    reads shopper language, not part numbers."""
    wc: collections.Counter = collections.Counter()
    for w, n in count_words(cat).items():
        code = any(c.isdigit() for c in w) and any(c.isalpha() for c in w)
        wc[w] += n * (1 if code else 2)
    for w, n in count_words(utt).items():
        wc[w] += n * 10
    return wc


def measure(vocab: List[str], texts: List[str]) -> dict:
    tok = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)})
    n_words = n_pieces = n_unk = 0
    for t in texts:
        for w in tok.basic.tokenize(t):
            p = tok.wordpiece.tokenize(w)
            n_words += 1
            n_pieces += len(p)
            n_unk += p == ["[UNK]"]
    return {"pieces_per_word": round(n_pieces / max(1, n_words), 4), "unk_rate": round(n_unk / max(1, n_words), 5)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "models", "intent", "vocab.txt"))
    ap.add_argument("--size", type=int, default=8000)
    ap.add_argument("--sweep", default="", help="comma-separated sizes to measure, e.g. 4000,8000,16000")
    args = ap.parse_args(argv)
    t0 = time.time()
    from . import data
    cat, utt = corpus_texts()
    wc = weighted_counts(cat, utt)
    print(f"corpus: {len(cat)} catalogue texts, {len(utt)} utterances, {len(wc)} distinct words ({time.time()-t0:.1f}s)", flush=True)
    # measurement text: held-out utterances/queries (never used to build the vocab)
    held = [u for u, _ in data.read_eval_csv(os.path.join(data.HELDOUT, "bitext_heldout.csv"))]
    held += [u for u, _ in data.read_eval_csv(os.path.join(data.HELDOUT, "product_queries_heldout.csv"))]
    held += [u for u, _ in data.read_eval_csv(os.path.join(data.HELDOUT, "clinc_val.csv"))]
    sizes = [int(s) for s in args.sweep.split(",") if s] or [args.size]
    best = None
    for size in sizes:
        t1 = time.time()
        v = train_wordpiece(wc, size)
        m = measure(v, held)
        print(json.dumps({"vocab_size": len(v), **m, "train_s": round(time.time() - t1, 1)}), flush=True)
        if size == args.size:
            best = v
    if best is None:
        best = train_wordpiece(wc, args.size)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        for t in best:
            f.write(t + "\n")
    print(f"wrote {args.out}: {len(best)} tokens ({time.time()-t0:.1f}s)")


if __name__ == "__main__":
    main()
