"""Writes fixtures/bench_texts.txt: 2,000 texts of 8-31 words, fixed seed.

The Rust bench and the Python reference both read that file, so both embed the
same texts. Run again only to change the corpus: python3 benches/reference/make_texts.py
"""
import pathlib
import random

WORDS = """model dataset training run metric loss accuracy image recognition deep learning
residual network transformer attention encoder decoder classification detection segmentation
speech audio text language translation sentiment review product customer churn tabular
gradient boosted trees reinforcement policy agent robot grasping diffusion latent generation
pretrained fine-tuned checkpoint epoch batch learning rate optimizer adam momentum dropout
embedding vector search similarity cosine cluster index quantization inference latency gpu cpu
benchmark validation test split augmentation crop flip normalize tokenizer vocabulary layer
convolution pooling activation relu softmax label class probability prediction confidence
experiment hypothesis baseline variant ablation result improvement regression forecasting time
series anomaly fraud recommendation ranking retrieval question answering summarization""".split()


def main() -> None:
    rng = random.Random(20261124)
    texts = []
    for _ in range(2000):
        n = rng.randint(8, 31)
        texts.append(" ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + ".")
    out = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "bench_texts.txt"
    out.write_text("\n".join(texts) + "\n", encoding="utf-8")
    print(f"wrote {len(texts)} texts to {out}")


if __name__ == "__main__":
    main()
