"""Python reference for the embedding bench: sentence-transformers on CPU (or `--device cuda`).

Embeds fixtures/bench_texts.txt (2,000 texts, batch 32) with all-MiniLM-L6-v2 from
the local Hugging Face cache (run `cargo xtask fetch-model` first; no network) and
prints one JSON line: {"texts_per_s": ..., "one_short_ms": ..., "threads": ...}; one_short_ms
is the median time to embed one text of at most 10 words on its own, as a search query
arrives (the texts aimdb's `embed/minilm_one_short` bench cycles through).
Needs: pip install sentence-transformers (cargo xtask bench --reference does this in a venv).
"""
import argparse
import json
import os
import pathlib
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    device = parser.parse_args().device
    root = pathlib.Path(__file__).resolve().parents[2]
    texts = (root / "fixtures" / "bench_texts.txt").read_text(encoding="utf-8").splitlines()
    model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", device=device)
    model.encode(texts[:64], batch_size=32)  # warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        model.encode(texts, batch_size=32, normalize_embeddings=True)
        best = min(best, time.perf_counter() - start)
    short = [t for t in texts if len(t.split(" ")) <= 10]
    times = []
    for i in range(400):
        start = time.perf_counter()
        model.encode([short[i % len(short)]], normalize_embeddings=True)
        times.append(time.perf_counter() - start)
    one_short_ms = sorted(times)[len(times) // 2] * 1e3
    print(json.dumps({"texts": len(texts), "seconds": best, "texts_per_s": len(texts) / best,
                      "one_short_ms": one_short_ms, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "device": device}))


if __name__ == "__main__":
    main()
