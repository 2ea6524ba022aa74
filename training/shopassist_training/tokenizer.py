"""Pure-Python reimplementation of Hugging Face's (slow) ``BertTokenizer``.

Behaviour follows transformers' ``BasicTokenizer`` + ``WordpieceTokenizer`` with
``do_lower_case=True, strip_accents=None, tokenize_chinese_chars=True``:

1. clean: drop U+0000, U+FFFD and every char whose Unicode category starts with
   "C" (except \\t \\n \\r); map whitespace (space, \\t, \\n, \\r, category Zs)
   to " ".
2. put spaces around CJK ideographs (the ranges of ``_is_chinese_char``).
3. NFC-normalise (as transformers >= 4.29 does; a no-op for the result here
   because step 5 decomposes again), split on whitespace.
4. per word: ``str.lower()`` (Python full lower-casing, incl. final sigma),
   NFD, drop category ``Mn`` chars (accent stripping).
5. split each punctuation char off as its own token (ASCII 33-47, 58-64,
   91-96, 123-126, or any category P*).
6. WordPiece: greedy longest-match-first over code points, continuation
   pieces prefixed "##"; a word with no segmentation or more than 100 code
   points becomes a single [UNK].

``encode`` builds ``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]`` with
token_type_ids 0/1, truncation to ``max_length`` (``longest_first`` for pairs,
removing from the end of the longer sequence, ties from the second) and an
attention mask. Padding only when asked.
"""
from __future__ import annotations

import unicodedata
from typing import Dict, Iterable, List, Optional

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK]


def _is_whitespace(ch: str) -> bool:
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return True
    return unicodedata.category(ch).startswith("P")


def _is_chinese_char(cp: int) -> bool:
    return (
        (0x4E00 <= cp <= 0x9FFF)
        or (0x3400 <= cp <= 0x4DBF)
        or (0x20000 <= cp <= 0x2A6DF)
        or (0x2A700 <= cp <= 0x2B73F)
        or (0x2B740 <= cp <= 0x2B81F)
        or (0x2B820 <= cp <= 0x2CEAF)
        or (0xF900 <= cp <= 0xFAFF)
        or (0x2F800 <= cp <= 0x2FA1F)
    )


def whitespace_tokenize(text: str) -> List[str]:
    text = text.strip()
    return text.split() if text else []


class BasicTokenizer:
    def __init__(self, do_lower_case: bool = True, strip_accents: Optional[bool] = None,
                 tokenize_chinese_chars: bool = True):
        self.do_lower_case = do_lower_case
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = tokenize_chinese_chars

    def tokenize(self, text: str) -> List[str]:
        text = self._clean_text(text)
        if self.tokenize_chinese_chars:
            text = self._tokenize_chinese_chars(text)
        text = unicodedata.normalize("NFC", text)
        split_tokens: List[str] = []
        for token in whitespace_tokenize(text):
            if self.do_lower_case:
                token = token.lower()
                if self.strip_accents is not False:
                    token = self._run_strip_accents(token)
            elif self.strip_accents:
                token = self._run_strip_accents(token)
            split_tokens.extend(self._run_split_on_punc(token))
        return whitespace_tokenize(" ".join(split_tokens))

    @staticmethod
    def _run_strip_accents(text: str) -> str:
        text = unicodedata.normalize("NFD", text)
        return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")

    @staticmethod
    def _run_split_on_punc(text: str) -> List[str]:
        out: List[List[str]] = []
        start_new = True
        for ch in text:
            if _is_punctuation(ch):
                out.append([ch])
                start_new = True
            else:
                if start_new:
                    out.append([])
                start_new = False
                out[-1].append(ch)
        return ["".join(x) for x in out]

    @staticmethod
    def _tokenize_chinese_chars(text: str) -> str:
        out = []
        for ch in text:
            if _is_chinese_char(ord(ch)):
                out.extend((" ", ch, " "))
            else:
                out.append(ch)
        return "".join(out)

    @staticmethod
    def _clean_text(text: str) -> str:
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            out.append(" " if _is_whitespace(ch) else ch)
        return "".join(out)


class WordpieceTokenizer:
    def __init__(self, vocab: Dict[str, int], unk_token: str = UNK, max_input_chars_per_word: int = 100):
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word

    def tokenize(self, text: str) -> List[str]:
        output: List[str] = []
        for token in whitespace_tokenize(text):
            chars = list(token)
            if len(chars) > self.max_input_chars_per_word:
                output.append(self.unk_token)
                continue
            sub_tokens: List[str] = []
            start, bad = 0, False
            while start < len(chars):
                end = len(chars)
                cur = None
                while start < end:
                    substr = "".join(chars[start:end])
                    if start > 0:
                        substr = "##" + substr
                    if substr in self.vocab:
                        cur = substr
                        break
                    end -= 1
                if cur is None:
                    bad = True
                    break
                sub_tokens.append(cur)
                start = end
            if bad:
                output.append(self.unk_token)
            else:
                output.extend(sub_tokens)
        return output


def load_vocab(path: str) -> Dict[str, int]:
    vocab: Dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            tok = line.rstrip("\n")
            if tok not in vocab:  # first occurrence wins, like HF
                vocab[tok] = i
    return vocab


class BertTokenizer:
    def __init__(self, vocab_file: Optional[str] = None, vocab: Optional[Dict[str, int]] = None,
                 do_lower_case: bool = True, strip_accents: Optional[bool] = None,
                 tokenize_chinese_chars: bool = True, model_max_length: int = 64):
        if vocab is None:
            vocab = load_vocab(vocab_file)
        self.vocab = vocab
        self.ids_to_tokens = {i: t for t, i in vocab.items()}
        self.basic = BasicTokenizer(do_lower_case, strip_accents, tokenize_chinese_chars)
        self.wordpiece = WordpieceTokenizer(vocab, UNK)
        self.model_max_length = model_max_length
        for t in SPECIAL_TOKENS:
            if t not in vocab:
                raise ValueError(f"vocab lacks {t}")

    @property
    def pad_id(self) -> int:
        return self.vocab[PAD]

    def tokenize(self, text: str) -> List[str]:
        out: List[str] = []
        for tok in self.basic.tokenize(text):
            out.extend(self.wordpiece.tokenize(tok))
        return out

    def convert_tokens_to_ids(self, tokens: Iterable[str]) -> List[int]:
        unk = self.vocab[UNK]
        return [self.vocab.get(t, unk) for t in tokens]

    def encode(self, text: str, text_pair: Optional[str] = None, max_length: Optional[int] = None,
               truncation: bool = True, padding: bool = False) -> Dict[str, List[int]]:
        if max_length is None:
            max_length = self.model_max_length
        a = self.convert_tokens_to_ids(self.tokenize(text))
        b = self.convert_tokens_to_ids(self.tokenize(text_pair)) if text_pair is not None else None
        if truncation:
            n_special = 2 if b is None else 3
            total = len(a) + (len(b) if b is not None else 0) + n_special
            remove = max(0, total - max_length)
            if remove:
                if b is None:
                    a = a[: max(0, len(a) - remove)]
                else:
                    a, b = truncate_longest_first(a, b, remove)
        cls, sep = self.vocab[CLS], self.vocab[SEP]
        ids = [cls] + a + [sep]
        types = [0] * len(ids)
        if b is not None:
            ids += b + [sep]
            types += [1] * (len(b) + 1)
        mask = [1] * len(ids)
        if padding and len(ids) < max_length:
            n = max_length - len(ids)
            ids += [self.pad_id] * n
            types += [0] * n
            mask += [0] * n
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}

    def __call__(self, text, text_pair=None, max_length=None, truncation=True, padding=False):
        return self.encode(text, text_pair, max_length, truncation, padding)

    def batch_encode(self, texts: List[str], max_length: Optional[int] = None) -> Dict[str, List[List[int]]]:
        """Encode single texts and pad to the longest in the batch (dynamic length)."""
        encs = [self.encode(t, max_length=max_length) for t in texts]
        L = max(len(e["input_ids"]) for e in encs)
        out = {"input_ids": [], "token_type_ids": [], "attention_mask": []}
        for e in encs:
            n = L - len(e["input_ids"])
            out["input_ids"].append(e["input_ids"] + [self.pad_id] * n)
            out["token_type_ids"].append(e["token_type_ids"] + [0] * n)
            out["attention_mask"].append(e["attention_mask"] + [0] * n)
        return out


def truncate_longest_first(a: List[int], b: List[int], remove: int):
    """HF ``longest_first``: repeatedly drop the last token of the longer
    sequence (the second one on ties)."""
    la, lb = len(a), len(b)
    first = min(abs(la - lb), remove)
    second = remove - first
    if la > lb:
        ra = first + second // 2
        rb = second - second // 2
    else:
        ra = second // 2
        rb = first + second - second // 2
    ra = min(ra, la)
    rb = min(rb, lb)
    return a[: la - ra], b[: lb - rb]
