"""A small catalogue written through the REST API: what the browser tests look at.

Descriptions avoid the words of the test's query ("image recognition deep learning"), so
ranking resnet50 first takes search by meaning, not matching words.
"""

import json
import math
import urllib.request

BIG_RUN_POINTS = 100_000
"""Points per metric of the run whose page must stay fast."""


class Api:
    def __init__(self, url: str, token: str | None = None):
        self.url = url.rstrip("/") + "/api/v1"
        self.token = token

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(request, timeout=300) as response:
            text = response.read()
            return json.loads(text) if text else None

    def post(self, path: str, body):
        return self.call("POST", path, body)

    def patch(self, path: str, body):
        return self.call("PATCH", path, body)

    def get(self, path: str):
        return self.call("GET", path)


MODELS = [
    ("resnet50", "Residual convolutional network that sorts photographs into the thousand ImageNet categories",
     "ResNet-50", "pytorch", "image_classification"),
    ("bert-base-sentiment", "BERT fine-tuned to tell positive from negative product reviews",
     "transformer", "transformers", "text_classification"),
    ("gpt2-small", "Autoregressive language model that writes English text", "transformer", "transformers",
     "text_generation"),
    ("whisper-small", "Speech to text transcription of spoken audio", "transformer", "transformers",
     "speech_recognition"),
    ("xgboost-churn", "Gradient boosted trees predicting which customers cancel a subscription", "gbdt",
     "xgboost", "tabular_classification"),
]

DATASETS = [
    ("imagenet-1k", "1.28 million labelled photographs in a thousand classes", "jpeg", 1_281_167),
    ("product-reviews", "Customer reviews of products with star ratings", "parquet", 3_650_000),
    ("librispeech", "Read English speech from audiobooks", "flac", 281_241),
    ("churn-2025", "Subscriptions with monthly usage and whether they were cancelled", "csv", 120_000),
]


def curve(step: int, total: int, start: float, end: float, wiggle: float, phase: float = 0.0) -> float:
    t = step / max(total - 1, 1)
    return end + (start - end) * math.exp(-4 * t) + wiggle * math.sin(step / 7 + phase)


def log_curves(api: Api, run: int, steps: int, phase: float, batch: int = 20_000) -> int:
    """loss and accuracy, train and val, at every step: 4 * steps points."""
    points = []
    for step in range(steps):
        epoch = step * 10 // steps
        points.append({"metric_name": "loss", "metric_value": curve(step, steps, 2.3, 0.25 + phase / 10, 0.02, phase),
                       "step": step, "epoch": epoch, "split": "train"})
        points.append({"metric_name": "loss", "metric_value": curve(step, steps, 2.4, 0.35 + phase / 10, 0.03, phase),
                       "step": step, "epoch": epoch, "split": "val"})
        points.append({"metric_name": "accuracy", "metric_value": 1 - curve(step, steps, 0.9, 0.1, 0.01, phase),
                       "step": step, "epoch": epoch, "split": "val"})
    for i in range(0, len(points), batch):
        api.post(f"/runs/{run}/metrics", points[i:i + batch])
    return len(points)


def seed(api: Api) -> dict:
    """Writes the catalogue; returns the ids the tests need."""
    ids = {"models": {}, "datasets": {}, "runs": {}}
    for name, description, architecture, framework, task in MODELS:
        model = api.post("/models", {"name": name, "description": description, "architecture": architecture,
                                     "framework": framework, "task_type": task})
        ids["models"][name] = model["id"]
    for name, description, fmt, samples in DATASETS:
        dataset = api.post("/datasets", {"name": name, "description": description, "format": fmt,
                                         "num_samples": samples, "size_bytes": samples * 110_000,
                                         "source_path": f"s3://datasets/{name}/",
                                         "split_info": {"train": 0.9, "val": 0.1}})
        ids["datasets"][name] = dataset["id"]
    v1 = api.post("/versions", {"model_id": ids["models"]["resnet50"], "version": "1.0",
                                "checkpoint_path": "checkpoints/resnet50-v1.pt", "status": "production",
                                "config": {"optimizer": "sgd", "epochs": 10}})
    v2 = api.post("/versions", {"model_id": ids["models"]["resnet50"], "version": "1.1",
                                "checkpoint_path": "checkpoints/resnet50-v1.1.pt", "status": "staging"})
    ids["version"] = v1["id"]
    runs = [("lr-0.1", v1, 0.1, 64, 0.0), ("lr-0.01", v1, 0.01, 128, 1.0), ("lr-0.001", v2, 0.001, 256, 2.0)]
    for name, version, lr, batch, phase in runs:
        run = api.post("/runs", {"model_version_id": version["id"], "dataset_id": ids["datasets"]["imagenet-1k"],
                                 "run_name": name, "status": "running"})
        api.post(f"/runs/{run['id']}/hyperparameters", {"learning_rate": lr, "batch_size": batch,
                                                         "optimizer": "sgd", "weight_decay": 1e-4})
        log_curves(api, run["id"], 300, phase)
        api.patch(f"/runs/{run['id']}", {"status": "completed", "final_loss": 0.25 + phase / 10,
                                         "best_metric_value": 0.9 - phase / 20, "duration_seconds": 3600 + 600 * phase})
        ids["runs"][name] = run["id"]
    experiment = api.post("/experiments", {"name": "learning-rate-sweep", "description": "Which learning rate?",
                                           "hypothesis": "0.01 converges best", "status": "completed"})
    for name in ("lr-0.1", "lr-0.01"):
        api.post(f"/experiments/{experiment['id']}/runs", {"training_run_id": ids["runs"][name],
                                                          "variant_name": name.replace("lr-", "lr="),
                                                          "notes": "same seed"})
    ids["experiment"] = experiment["id"]
    api.post("/predictions", [
        {"model_version_id": v1["id"], "input_data": {"image": "cat.jpg"}, "output_data": {"label": "tabby cat"},
         "confidence": 0.93, "inference_time_ms": 12.5},
        {"model_version_id": v1["id"], "input_data": {"image": "truck.jpg"}, "output_data": {"label": "fire truck"},
         "confidence": 0.88, "inference_time_ms": 11.9},
    ])
    big = api.post("/runs", {"model_version_id": v2["id"], "run_name": "long-run", "status": "completed"})
    points = []
    for step in range(BIG_RUN_POINTS):
        points.append({"metric_name": "loss", "metric_value": curve(step, BIG_RUN_POINTS, 2.3, 0.2, 0.05),
                       "step": step, "split": "train"})
        points.append({"metric_name": "learning_rate", "metric_value": 0.1 * 0.5 ** (step // 20_000),
                       "step": step, "split": "train"})
    for i in range(0, len(points), 20_000):
        api.post(f"/runs/{big['id']}/metrics", points[i:i + 20_000])
    ids["runs"]["long-run"] = big["id"]
    return ids
