//! Embedding throughput: the 2,000 texts of fixtures/bench_texts.txt (8-31 words),
//! batches of 32, all-MiniLM-L6-v2 on CPU. Compare with
//! benches/reference/embed_reference.py (sentence-transformers) on the same machine:
//! `cargo xtask bench --reference` prints the ratio. With the `cuda` feature the same
//! texts run on CUDA device 0 too (reference: embed_reference.py --device cuda). Where the
//! CPU has AVX512-BF16, `minilm_2000_bf16` times the same texts with bfloat16 products.

use aimdb_core::config::EmbeddingPrecision;
use aimdb_embed::{Device, HashEmbedder, MINILM_SHORT_NAME, SentenceBert, hub_cache_dir, resolve};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn texts() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/bench_texts.txt");
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn embed(c: &mut Criterion) {
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut group = c.benchmark_group("embed");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("hash_2000", |b| {
        b.iter(|| refs.iter().map(|t| HashEmbedder::embed_one(t)).collect::<Vec<_>>())
    });
    match resolve(MINILM_SHORT_NAME, &hub_cache_dir()) {
        Ok(files) => {
            let model = SentenceBert::load(&files, Device::Cpu, None).unwrap();
            group.sample_size(10);
            group.bench_function("minilm_2000", |b| b.iter(|| model.embed(&refs).unwrap()));
            // bfloat16 products (`EMBEDDING_PRECISION=bf16`), where the CPU has them.
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx512bf16") {
                let bf16 =
                    SentenceBert::load_with(&files, Device::Cpu, None, EmbeddingPrecision::Bf16).unwrap();
                group.bench_function("minilm_2000_bf16", |b| b.iter(|| bf16.embed(&refs).unwrap()));
            }
            // One short text at a time, as a search query arrives: latency, not throughput.
            let short: Vec<&str> = refs.iter().copied().filter(|t| t.split(' ').count() <= 10).collect();
            let mut next = short.iter().cycle();
            group.throughput(Throughput::Elements(1));
            group.sample_size(100);
            group.bench_function("minilm_one_short", |b| {
                b.iter(|| model.embed(&[next.next().unwrap()]).unwrap())
            });
            #[cfg(feature = "cuda")]
            {
                let gpu = SentenceBert::load(&files, Device::new_cuda(0).unwrap(), None).unwrap();
                group.bench_function("minilm_2000_cuda", |b| b.iter(|| gpu.embed(&refs).unwrap()));
            }
        }
        Err(e) => eprintln!("embed/minilm_2000 skipped: {e}"),
    }
    group.finish();
}

criterion_group!(benches, embed);
criterion_main!(benches);
