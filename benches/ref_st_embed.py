"""sentence-transformers side of benches/embed.mjs: a persistent embedding server on stdin.

usage: python3 benches/ref_st_embed.py MODEL_DIR THREADS
Loads MODEL_DIR with torch on THREADS threads (torch.set_num_threads), prints one JSON
line {"ready": true, ...}, then for each request line {"texts": FILE, "out": FILE,
"batchSize": N} embeds the JSON array of strings in FILE with `encode` (the library's own
length sorting and padding to the longest text of each batch), writes the float32 vectors
to `out` and prints {"seconds": S, "n": N}. Loading and one warm-up call are not timed.
"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main():
    model_dir, threads = sys.argv[1], int(sys.argv[2])
    import torch

    torch.set_num_threads(threads)
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    t = time.perf_counter()
    model = SentenceTransformer(model_dir, device="cpu")
    load_ms = (time.perf_counter() - t) * 1000
    model.encode(["warm up the kernels"] * 8)
    print(json.dumps({
        "ready": True,
        "loadMs": round(load_ms, 1),
        "torch": torch.__version__,
        "sentenceTransformers": sentence_transformers.__version__,
        "threads": torch.get_num_threads(),
        "maxSeqLength": model.max_seq_length,
    }), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        with open(req["texts"], encoding="utf-8") as f:
            texts = json.load(f)
        t = time.perf_counter()
        emb = model.encode(texts, batch_size=req.get("batchSize", 32), convert_to_numpy=True)
        secs = time.perf_counter() - t
        emb.astype("float32").tofile(req["out"])
        print(json.dumps({"seconds": secs, "n": len(texts)}), flush=True)


if __name__ == "__main__":
    main()
