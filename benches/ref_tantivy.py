#!/usr/bin/env python3
"""Reference BM25 on the shared IR set: tantivy (Python binding, BM25 k1=1.2, b=0.75), title +
text as one field with the en_stem tokenizer (lower-casing, English Snowball stemming, no
stopwords), as in the shared data README's reference run. Index on disk in a temporary
directory, tantivy's default writer (128 MB heap, threads chosen by tantivy); build time = adding
the documents + commit + waiting for merges. Queries one at a time on one thread after a warm-up:
the timed part is parsing the query's words (lenient parser, disjunction) + top-100 search +
reading the hits' ids (an i64 fast field holding the position in the id list, so no stored
document is fetched). Prints one JSON object: version, build seconds (wall, CPU), per-query
ranks of the relevant document and latencies (ms), peak RSS (after loading the data, at the end).
Called by benches/text-peers.mjs. usage: ref_tantivy.py DATA_IR_DIR [MAX_QUERIES] [WARMUP]"""
import importlib.metadata
import json
import re
import resource
import sys
import tempfile
import time

import tantivy

d = sys.argv[1]
max_queries = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 50
corpus = [json.loads(l) for l in open(f"{d}/corpus.jsonl", encoding="utf8")]
queries = [json.loads(l) for l in open(f"{d}/queries-dev.jsonl", encoding="utf8")][:max_queries]
ids = [c["id"] for c in corpus]
loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

sb = tantivy.SchemaBuilder()
sb.add_text_field("body", stored=False, tokenizer_name="en_stem")
sb.add_integer_field("pos", stored=False, fast=True, indexed=False)
schema = sb.build()
with tempfile.TemporaryDirectory(prefix="hektor-tantivy-") as tmp:
    index = tantivy.Index(schema, path=tmp)
    w0, c0 = time.perf_counter(), time.process_time()
    writer = index.writer()
    for i, c in enumerate(corpus):
        writer.add_document(tantivy.Document(body=c["title"] + "\n" + c["text"], pos=i))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    build_s, build_cpu_s = time.perf_counter() - w0, time.process_time() - c0
    searcher = index.searcher()

    WORDS = re.compile(r"[\W_]+")

    def search(text):
        # the words only, lower-cased: no query syntax (`-x` excludes, `a:b` names a field, AND/OR)
        query, _errors = index.parse_query_lenient(WORDS.sub(" ", text).lower(), ["body"])
        hits = searcher.search(query, 100, count=False).hits
        return [ids[p] for p in searcher.fast_field_values("pos", [a for _, a in hits])]

    for q in queries[:warmup]:
        search(q["text"])
    ranks, lat = [], []
    for q in queries:
        t = time.perf_counter()
        got = search(q["text"])
        lat.append((time.perf_counter() - t) * 1000)
        ranks.append(next((i for i, x in enumerate(got) if x in q["relevant"]), -1))
    segments = searcher.num_segments

print(json.dumps({
    "system": "tantivy", "version": importlib.metadata.version("tantivy"), "docs": len(corpus), "segments": segments,
    "build_s": build_s, "build_cpu_s": build_cpu_s, "ranks": ranks, "lat_ms": lat,
    "loaded_rss_bytes": loaded_rss, "rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
}))
