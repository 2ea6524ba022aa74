"""A small in-memory BM25 over product texts (lower-cased alphanumeric words,
plural-folded), used to mine lexically close candidates (hard negatives)
for the reranker's weak labels. Not the Go BM25F index; close enough for
picking candidates."""
from __future__ import annotations

import collections
import heapq
import math
from typing import Dict, List, Sequence, Tuple

from .bienc_data import stem, words


class BM25:
    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.postings: Dict[str, List[Tuple[int, int]]] = collections.defaultdict(list)
        self.lens = []
        for i, t in enumerate(texts):
            tf = collections.Counter(stem(w) for w in words(t))
            self.lens.append(sum(tf.values()))
            for w, n in tf.items():
                self.postings[w].append((i, n))
        self.n = len(texts)
        self.avg = sum(self.lens) / max(1, self.n)

    def idf(self, w: str) -> float:
        df = len(self.postings.get(w, ()))
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def search(self, query: str, k: int = 50) -> List[Tuple[int, float]]:
        scores: Dict[int, float] = collections.defaultdict(float)
        for w in {stem(x) for x in words(query)}:
            idf = self.idf(w)
            for i, tf in self.postings.get(w, ()):
                norm = tf + self.k1 * (1 - self.b + self.b * self.lens[i] / self.avg)
                scores[i] += idf * tf * (self.k1 + 1) / norm
        return heapq.nlargest(k, scores.items(), key=lambda x: (x[1], -x[0]))
