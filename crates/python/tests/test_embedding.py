"""The embedder's modes from Python: the transformer, the fallback to hash, strict."""

from __future__ import annotations

import logging

import pytest

import aimdb


def test_fallback_to_hash_warns_through_logging(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("EMBEDDING_MODEL_NAME", str(tmp_path / "no-such-model"))
    monkeypatch.delenv("EMBEDDING_STRICT", raising=False)
    with caplog.at_level(logging.WARNING):
        with aimdb.create_ai_database(backend="faiss", index_path=str(tmp_path / "idx")) as db:
            db.create_model("resnet50", "Deep residual network for image recognition")
            embedder = db.get_statistics()["index"]["embedder"]
            assert embedder["kind"] == "hash", "the seed's hash embedding stands in"
            # The hash embedding matches identical texts only, but search still answers.
            hits = db.search_similar_models("Deep residual network for image recognition", n_results=1)
            assert hits[0]["name"] == "resnet50"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "falling back" in r.getMessage()]
    assert warnings, "the fallback is said, never silent"
    assert warnings[0].name.startswith("aimdb"), warnings[0].name


def test_strict_makes_a_missing_model_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDDING_MODEL_NAME", str(tmp_path / "no-such-model"))
    monkeypatch.setenv("EMBEDDING_STRICT", "true")
    with pytest.raises(aimdb.AimdbError, match="no-such-model"):
        aimdb.create_ai_database(backend="faiss", index_path=str(tmp_path / "idx"), dimension=384)
    with aimdb.create_ai_database(backend="faiss", index_path=str(tmp_path / "idx2")) as db:
        with pytest.raises(aimdb.AimdbError, match="no-such-model"):
            db.search_similar_models("anything")


def test_hash_embedder_by_option(tmp_path):
    with aimdb.create_ai_database(backend="faiss", index_path=str(tmp_path / "idx"), embedding={"model": "hash"}) as db:
        assert db.get_statistics()["index"]["embedder"] == {"kind": "hash", "model": "sha256", "dim": 384}
