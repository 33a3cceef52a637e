"""Python reference for the vector bench: faiss-cpu on the very data aimdb's bench used.

Reads target/bench-data/vectors.f32 and queries.f32 (written by `cargo bench --bench vector`,
384-d little-endian float32), normalises them as aimdb does, builds the same indexes
(IndexFlatIP; IVF{nlist},Flat and IVF{nlist},PQ48x8np with inner product, trained on the same
evenly spaced sample) and times single-vector queries (k=10) one at a time, as aimdb's bench
does, then batches of 1, 4, 16 and 256 queries per call. Prints one JSON object per index:
p50/p99 latency in ms, recall@10 against flat, and queries/s per batch size.
AIMDB_BENCH_LATENCIES=DIR also writes each index's latencies, in order, to DIR/faiss-<index>.txt.
Needs: pip install faiss-cpu numpy (cargo xtask bench --reference does this in a venv).

usage: faiss_reference.py NLIST NPROBE
AIMDB_BENCH_INDEXES=flat,ivf limits the run to those types, as in aimdb's bench.
"""
import json
import math
import os
import pathlib
import sys
import time

import faiss
import numpy as np

DIM, K = 384, 10
BATCHES, BATCHED_QUERIES = (1, 4, 16, 256), 512


def load(path: pathlib.Path) -> np.ndarray:
    x = np.fromfile(path, dtype="<f4").reshape(-1, DIM)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-30), dtype="float32")


def timed(name, index, queries):
    latencies, found = [], []
    for i in range(len(queries)):
        start = time.perf_counter()
        _, labels = index.search(queries[i:i + 1], K)
        latencies.append((time.perf_counter() - start) * 1e3)
        found.append(labels[0])
    if os.environ.get("AIMDB_BENCH_LATENCIES"):
        out = pathlib.Path(os.environ["AIMDB_BENCH_LATENCIES"]) / f"faiss-{name}.txt"
        out.write_text("".join(f"{ms:.3f}\n" for ms in latencies))
    latencies.sort()
    pick = lambda p: latencies[round((len(latencies) - 1) * p)]  # noqa: E731
    return pick(0.5), pick(0.99), found


def batched_qps(index, queries) -> dict:
    """Queries per second with `search` on batches of 1, 4, 16 and 256 (queries cycled): at least
    512 queries and 2 s of them, as aimdb's bench."""
    rates = {}
    cycled = np.concatenate([queries] * 2)
    for batch in BATCHES:
        done, start, at = 0, time.perf_counter(), 0
        while done < BATCHED_QUERIES or time.perf_counter() - start < 2.0:
            if at + batch > len(cycled):
                at = 0
            index.search(cycled[at:at + batch], K)
            at += batch
            done += batch
        rates[f"qps_batch_{batch}"] = round(done / (time.perf_counter() - start), 1)
    return rates


def main() -> None:
    nlist, nprobe = int(sys.argv[1]), int(sys.argv[2])
    data_dir = pathlib.Path(__file__).resolve().parents[2] / "target" / "bench-data"
    xb, xq = load(data_dir / "vectors.f32"), load(data_dir / "queries.f32")
    n = len(xb)
    ids = np.arange(1, n + 1, dtype="int64")

    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    start = time.perf_counter()
    flat.add_with_ids(xb, ids)
    build = time.perf_counter() - start
    p50, p99, truth = timed("flat", flat, xq)
    rows = [("flat", build, p50, p99, truth, batched_qps(flat, xq))]

    wanted = os.environ.get("AIMDB_BENCH_INDEXES", "flat,ivf,ivfpq").split(",")
    for name, factory, codebook in [("ivf", f"IVF{nlist},Flat", 1), ("ivfpq", f"IVF{nlist},PQ48x8np", 256)]:
        if name not in wanted:
            continue
        index = faiss.index_factory(DIM, factory, faiss.METRIC_INNER_PRODUCT)
        start = time.perf_counter()
        step = max(1, math.ceil(n / (256 * max(nlist, codebook))))
        index.train(xb[::step])
        index.add_with_ids(xb, ids)
        build = time.perf_counter() - start
        faiss.ParameterSpace().set_index_parameter(index, "nprobe", nprobe)
        p50, p99, found = timed(name, index, xq)
        rows.append((name, build, p50, p99, found, batched_qps(index, xq)))

    for name, build, p50, p99, found, rates in rows:
        recall = sum(len(set(f) & set(t)) for f, t in zip(found, truth)) / (K * len(xq))
        print(json.dumps({"index": name, "n": n, "build_s": round(build, 2), "p50_ms": round(p50, 3),
                          "p99_ms": round(p99, 3), "recall_at_10": round(recall, 4),
                          **rates, "faiss": faiss.__version__, "threads": faiss.omp_get_max_threads()}))


if __name__ == "__main__":
    main()
