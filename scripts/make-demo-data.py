#!/usr/bin/env python3
"""Builds the demo's bundled sample (scripts/demo-data/) from the shared retrieval set.

usage: python3 scripts/make-demo-data.py SHARED_DATA_IR_DIR

Picks 3,000 Debian package descriptions: the relevant documents of the first 600 dev
queries plus an evenly spaced sample of the rest; copies their all-MiniLM-L6-v2 vectors
(stored as float16 to keep the repository small) and 8 demo queries with their vectors.
Standard library only (reads .npy by hand).
"""
import gzip
import json
import os
import struct
import sys

N_DOCS = 3000
N_QUERY_POOL = 600
N_DEMO_QUERIES = 8


def read_npy(path):
    with open(path, "rb") as f:
        magic = f.read(6)
        assert magic == b"\x93NUMPY", path
        major, _minor = f.read(2)
        hlen = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = eval(f.read(hlen).decode("latin1"))  # a Python dict literal by the .npy spec
        assert header["descr"] == "<f4" and not header["fortran_order"], header
        rows, dim = header["shape"]
        data = f.read()
    return rows, dim, data


def main():
    src = sys.argv[1]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo-data")
    os.makedirs(out, exist_ok=True)
    corpus = [json.loads(l) for l in open(os.path.join(src, "corpus.jsonl"), encoding="utf8")]
    queries = [json.loads(l) for l in open(os.path.join(src, "queries-dev.jsonl"), encoding="utf8")]
    ids = open(os.path.join(src, "emb", "corpus.ids.txt"), encoding="utf8").read().split()
    qids = open(os.path.join(src, "emb", "queries-dev.ids.txt"), encoding="utf8").read().split()
    rows, dim, cvec = read_npy(os.path.join(src, "emb", "corpus.f32.npy"))
    _, _, qvec = read_npy(os.path.join(src, "emb", "queries-dev.f32.npy"))
    assert rows == len(ids) == len(corpus)
    pos = {d: i for i, d in enumerate(ids)}
    chosen = []
    seen = set()
    for q in queries[:N_QUERY_POOL]:
        for r in q["relevant"]:
            if r not in seen:
                seen.add(r)
                chosen.append(r)
    step = max(1, len(corpus) // (N_DOCS - len(chosen)))
    for d in corpus[::step]:
        if len(chosen) >= N_DOCS:
            break
        if d["id"] not in seen:
            seen.add(d["id"])
            chosen.append(d["id"])
    by_id = {d["id"]: d for d in corpus}
    chosen.sort()
    with gzip.open(os.path.join(out, "packages.jsonl.gz"), "wt", encoding="utf8", compresslevel=9) as f:
        for d in chosen:
            f.write(json.dumps(by_id[d], ensure_ascii=False) + "\n")
    with open(os.path.join(out, "packages.f16"), "wb") as f:
        for d in chosen:
            i = pos[d]
            vals = struct.unpack("<%df" % dim, cvec[i * dim * 4:(i + 1) * dim * 4])
            f.write(struct.pack("<%de" % dim, *vals))
    qpos = {q: i for i, q in enumerate(qids)}
    demo = []
    for q in queries[:N_QUERY_POOL:N_QUERY_POOL // N_DEMO_QUERIES][:N_DEMO_QUERIES]:
        i = qpos[q["qid"]]
        v = struct.unpack("<%df" % dim, qvec[i * dim * 4:(i + 1) * dim * 4])
        demo.append({"qid": q["qid"], "text": q["text"], "relevant": q["relevant"], "vector": [round(x, 6) for x in v]})
    with open(os.path.join(out, "queries.json"), "w", encoding="utf8") as f:
        json.dump(demo, f)
    print(f"{len(chosen)} documents, dim {dim}, {len(demo)} queries -> {out}")


if __name__ == "__main__":
    main()
