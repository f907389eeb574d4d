#!/usr/bin/env python3
"""Reference BM25 on the shared IR set: bm25s (Lucene variant, k1=1.2, b=0.75, English
stopwords, Snowball stemming via PyStemmer), title + text as one field, one query at a time.
Prints a markdown row like benches/ir.mjs. usage: ref_bm25s.py DATA_IR_DIR"""
import json
import sys
import time

import bm25s
import Stemmer

d = sys.argv[1]
corpus = [json.loads(l) for l in open(f"{d}/corpus.jsonl", encoding="utf8")]
queries = [json.loads(l) for l in open(f"{d}/queries-dev.jsonl", encoding="utf8")]
stemmer = Stemmer.Stemmer("english")
ids = [c["id"] for c in corpus]
tok = bm25s.tokenize([c["title"] + "\n" + c["text"] for c in corpus], stopwords="en", stemmer=stemmer, show_progress=False)
ret = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
ret.index(tok, show_progress=False)
mrr = r10 = r100 = 0
lat = []
for q in queries:
    t = time.perf_counter()
    qt = bm25s.tokenize([q["text"]], stopwords="en", stemmer=stemmer, show_progress=False)
    res, _ = ret.retrieve(qt, k=100, show_progress=False, n_threads=1)
    lat.append((time.perf_counter() - t) * 1000)
    got = [ids[i] for i in res[0]]
    rank = next((i for i, x in enumerate(got) if x in q["relevant"]), -1)
    if 0 <= rank < 10:
        mrr += 1 / (rank + 1)
        r10 += 1
    if rank >= 0:
        r100 += 1
n = len(queries)
lat.sort()
print(f"| bm25s {bm25s.__version__} (Lucene BM25, reference) | {mrr / n:.4f} | {r10 / n:.3f} | {r100 / n:.3f} | {sum(lat) / n:.3f} | {lat[n // 2]:.3f} | {lat[int(n * 0.99)]:.3f} |")
