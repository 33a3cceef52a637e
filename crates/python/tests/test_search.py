"""Search by meaning from Python: the seed's own usage, filters, datasets, predictions."""

from __future__ import annotations

import pytest

import aimdb
from conftest import require, unavailable

SEED_MODELS = [
    ("resnet50", "Deep residual network for image recognition", "ResNet-50", "pytorch", "image_classification"),
    ("bert-base", "Bidirectional transformer for natural language understanding", "BERT", "pytorch", "nlp"),
    ("yolov8", "Real-time object detection in images and video", "YOLO", "pytorch", "object_detection"),
    ("distilbert-sst2", "Sentiment analysis of movie reviews", "DistilBERT", "tensorflow", "text_classification"),
]


def require_transformer(db: aimdb.Database) -> None:
    embedder = db.get_statistics()["index"]["embedder"]
    if embedder["kind"] != "transformer":
        unavailable("all-MiniLM-L6-v2 is not installed (cargo xtask fetch-model)")


def test_the_seeds_usage_runs_as_written(tmp_path, capsys):
    # The seed's README, line for line (only the paths are the test's).
    from aimdb import create_ai_database

    db = create_ai_database(backend="faiss", index_path=str(tmp_path / "faiss_index"), dimension=384)
    require_transformer(db)
    for model in SEED_MODELS:
        db.create_model(*model)
    results = db.search_similar_models(query="image recognition deep learning", n_results=3)
    for result in results:
        print(f"{result['name']}: {result['similarity_score']:.3f}")
    db.close()

    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3
    assert printed[0].startswith("resnet50: ")
    scores = [float(line.split(": ")[1]) for line in printed]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_hits_are_records_with_scores_and_filters_apply(faiss_db):
    require_transformer(faiss_db)
    ids = {m[0]: faiss_db.create_model(*m) for m in SEED_MODELS}
    hits = faiss_db.search_similar_models("understanding sentences", n_results=4)
    assert len(hits) == 4
    assert set(hits[0]) == set(faiss_db.get_model(ids["resnet50"])) | {"similarity_score"}
    assert hits[0]["created_at"].tzinfo is not None

    tf = faiss_db.search_similar_models("understanding sentences", framework="tensorflow")
    assert [h["name"] for h in tf] == ["distilbert-sst2"]
    detection = faiss_db.search_similar_models("finding cars in photos", task_type="object_detection")
    assert [h["name"] for h in detection] == ["yolov8"]
    assert faiss_db.search_similar_models("anything", n_results=0) == []


def test_datasets_and_predictions_by_meaning(faiss_db):
    require_transformer(faiss_db)
    faiss_db.create_dataset("imagenet", "Photographs of everyday objects in a thousand classes", format="jpeg")
    faiss_db.create_dataset("imdb", "Movie reviews labelled positive or negative", format="csv")
    hits = faiss_db.search_similar_datasets("pictures for training a vision model")
    assert hits[0]["name"] == "imagenet"
    assert [h["name"] for h in faiss_db.search_similar_datasets("pictures", format="csv")] == ["imdb"]

    version = faiss_db.create_model_version(faiss_db.create_model("classifier"), "1")
    other = faiss_db.create_model_version(faiss_db.create_model("other"), "1")
    faiss_db.log_prediction(version, {"text": "the film was wonderful"}, {"label": "positive"}, 0.98)
    faiss_db.log_predictions(version, [{"input_data": {"text": "stock prices fell sharply"}, "output_data": {"label": "finance"}}])
    faiss_db.log_prediction(other, {"text": "a delightful movie"}, {"label": "positive"})
    hits = faiss_db.search_similar_predictions("a great movie")
    assert len(hits) == 3
    assert hits[0]["input_data"]["text"] in {"the film was wonderful", "a delightful movie"}
    only = faiss_db.search_similar_predictions("a great movie", model_version_id=version)
    assert {h["model_version_id"] for h in only} == {version}


def test_chroma_ranks_and_scores_as_faiss(faiss_db, tmp_path):
    """SPEC §3: the same query scores the same on every index."""
    from conftest import open_backend

    require_transformer(faiss_db)
    with open_backend("chromadb", tmp_path) as chroma:
        answers = []
        for db in (faiss_db, chroma):
            for model in SEED_MODELS:
                db.create_model(*model)
            hits = db.search_similar_models("image recognition deep learning", n_results=4)
            answers.append(hits)
        faiss_hits, chroma_hits = answers
        assert faiss_hits[0]["name"] == "resnet50"
        assert [h["name"] for h in chroma_hits] == [h["name"] for h in faiss_hits]
        for ours, theirs in zip(faiss_hits, chroma_hits):
            assert theirs["similarity_score"] == pytest.approx(ours["similarity_score"], abs=1e-4)


def test_reindex_and_optimize(faiss_db):
    faiss_db.create_model("a", "first model")
    faiss_db.create_dataset("d", "a dataset")
    assert faiss_db.reindex() == {"models": 1, "datasets": 1, "predictions": 0}
    info = faiss_db.optimize_index("models")
    assert info["vectors"] == 1
    stats = faiss_db.get_statistics()["index"]
    assert {c["collection"] for c in stats["collections"]} == {"models", "datasets", "predictions"}
    assert stats["failed_vector_writes"] == 0
    with pytest.raises(aimdb.InvalidInput) as err:
        faiss_db.optimize_index("runs")
    assert err.value.field == "collection"


def test_a_distance_metric_is_chosen_recorded_and_needs_a_reindex_to_change(tmp_path):
    path = str(tmp_path / "index")
    with aimdb.create_ai_database(backend="faiss", index_path=path, metric="l2", embedding_model="hash") as db:
        db.create_model("a", "first model")
        assert {c["metric"] for c in db.get_statistics()["index"]["collections"]} == {"l2"}
        hit = db.search_similar_models("first model", n_results=1)[0]
        # 1 / (1 + squared distance) of the hash embedding's unnormalised vectors.
        assert hit["name"] == "a" and 0.0 < hit["similarity_score"] < 0.5
    with aimdb.create_ai_database(backend="faiss", index_path=path, embedding_model="hash") as db:
        with pytest.raises(aimdb.ConfigError, match="reindex"):
            db.search_similar_models("first model")
        db.reindex()
        assert {c["metric"] for c in db.get_statistics()["index"]["collections"]} == {"cosine"}
        assert db.search_similar_models("first model", n_results=1)[0]["name"] == "a"


def test_search_without_an_index_says_how_to_get_one(tmp_path):
    with aimdb.create_ai_database(backend="sqlite", db_path=str(tmp_path / "a.db")) as db:
        with pytest.raises(aimdb.ConfigError, match="vector index"):
            db.search_similar_models("anything")


def test_a_repair_at_open_is_reported(tmp_path):
    index = tmp_path / "idx"
    with aimdb.create_ai_database(backend="faiss", index_path=str(index), embedding={"model": "hash"}) as db:
        db.create_model("indexed")
    # Written past the index (SQLite alone on the preset's metadata file): the next open adds it.
    with aimdb.create_ai_database(backend="sqlite", db_path=str(index / "metadata.db")) as db:
        db.create_model("written-without-the-index")
    with aimdb.create_ai_database(backend="faiss", index_path=str(index), embedding={"model": "hash"}) as db:
        repair = db.get_statistics()["index"]["last_repair"]
        assert repair["added"] == 1
        assert repair["at"].tzinfo is not None
        assert db.search_similar_models("written-without-the-index", n_results=1)[0]["name"] == "written-without-the-index"


def test_an_openai_compatible_service_embeds(tmp_path):
    url = require("AIMDB_TEST_OPENAI_URL", "cargo xtask services up openai")
    embedding = {"model": "openai:multilingual-e5-small", "base_url": url, "strict": True}
    with aimdb.create_ai_database(backend="faiss", index_path=str(tmp_path / "idx"), dimension=384,
                                  embedding=embedding) as db:
        for model in SEED_MODELS:
            db.create_model(*model)
        hits = db.search_similar_models("image recognition deep learning", n_results=3)
        assert hits[0]["name"] == "resnet50"
        assert db.get_statistics()["index"]["embedder"]["kind"] == "openai"
