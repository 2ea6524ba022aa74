"""Write a large random parity corpus for inference.TestTokenizerParity.

Run from the repository root with the Python that trains the models:
  /usr/bin/python3 inference/testdata/gen_random_tokens.py /tmp/rand_tokens.jsonl
  SHOPASSIST_TOKENS_GOLDEN=/tmp/rand_tokens.jsonl go test -run TestTokenizerParity ./inference

Strings mix vocabulary words (some upper-cased) with runs of code points
from many blocks: Latin with accents, Greek (final sigma), Cyrillic,
combining marks, CJK, kana, Hangul, emoji (including Unicode 15 ones),
general punctuation, fullwidth forms, control characters, Kawi (new in
Unicode 15), Arabic, Devanagari, math alphanumerics, private use; 20% are
pairs; max_length varies so truncation is exercised.
"""
import json, random, sys
sys.path.insert(0, 'training')
from shopassist_training.tokenizer import BertTokenizer
tok = BertTokenizer(vocab_file='models/intent/vocab.txt')
rng = random.Random(1)
pools = [range(0x20, 0x7f), range(0xa0, 0x250), range(0x370, 0x400), range(0x400, 0x500), range(0x300, 0x370),
         range(0x4e00, 0x4e80), range(0x3040, 0x30ff), range(0xac00, 0xac80), range(0x1f300, 0x1faff),
         range(0x2000, 0x2070), range(0xff00, 0xff70), range(0x0, 0x20), range(0x11f00, 0x11f60), range(0x600, 0x700),
         range(0x900, 0x980), range(0xfe00, 0xfe70), range(0x1d400, 0x1d500), range(0x10000, 0x10100), range(0xe000, 0xe010)]
words = [l.strip() for l in open('models/intent/vocab.txt')][5:]
with open(sys.argv[1] if len(sys.argv) > 1 else '/tmp/rand_tokens.jsonl', 'w') as f:
    for i in range(30000):
        parts = []
        for _ in range(rng.randint(0, 8)):
            if rng.random() < 0.5:
                w = rng.choice(words).replace('##', '')
                if rng.random() < 0.3: w = w.upper()
                parts.append(w)
            else:
                p = rng.choice(pools)
                parts.append(''.join(chr(rng.choice(p)) for _ in range(rng.randint(1, 6))))
        text = rng.choice([' ', '', '  ', '\t', '.', 'Σ']).join(parts)
        pair = None
        if rng.random() < 0.2:
            pair = ' '.join(rng.choice(words) for _ in range(rng.randint(0, 30)))
        ml = rng.choice([8, 16, 64, 128])
        e = tok.encode(text, pair, max_length=ml)
        f.write(json.dumps({"text": text, "text_pair": pair, "max_length": ml, **e}) + "\n")
