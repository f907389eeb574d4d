#!/usr/bin/env python3
"""sentence-transformers throughput on the texts of `embed_bench --dump texts.json`.

usage: python st_bench.py MODEL_DIR texts.json [threads]
"""
import json
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

model_dir, texts_path = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else torch.get_num_threads()
torch.set_num_threads(threads)
texts = json.load(open(texts_path))
model = SentenceTransformer(model_dir, device="cpu")
print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, max_seq_length {model.max_seq_length}")
for name, batch in [("short (10 words)", texts["short"]), ("passages (200 words)", texts["long"])]:
    model.encode(batch[:64], batch_size=32)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        model.encode(batch, batch_size=32, normalize_embeddings=True)
        best = min(best, time.perf_counter() - t)
    print(f"sentence-transformers, {name:<24} {len(batch) / best:9.1f} texts/s  ({len(batch)} texts in {best:.3f} s, best of 3)")
