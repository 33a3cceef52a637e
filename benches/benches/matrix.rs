//! The FAISS benchmark matrix: index type x size x nlist x nprobe x m, each cell measured
//! for build/train time, add throughput, p50/p99 latency, queries per second, recall@1 and
//! recall@10 against exact search, index size on disk, and resident memory (what opening
//! the index and searching it once adds to a fresh process).
//! Writes `target/bench-matrix/matrix.md`,
//! `matrix.json` and `recall_vs_qps.svg` (plotters).
//!
//! `cargo xtask bench --matrix` runs sizes 10k, 100k and 1M; `--quick` (and `cargo test
//! --benches`, which passes no `--bench`) runs 10k only. Data: `aimdb_testkit::synthetic`
//! `Clustered` (dim 384, 1000 clusters, 16-d subspaces, deviation 0.5, noise 0.1, seed 42);
//! 200 queries drawn from the same distribution with another seed.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use aimdb_core::config::{FaissConfig, IndexType};
use aimdb_core::{Collection, EmbedderIdentity, VectorFilter, VectorIndex, VectorRecord};
use aimdb_testkit::synthetic::Clustered;
use aimdb_vector::FaissIndex;
use aimdb_vector::faiss::layout::auto_nlist;
use plotters::prelude::*;
use tokio::runtime::Runtime;

const DIM: usize = 384;
const QUERIES: usize = 200;
const K: usize = 10;

#[derive(Clone, Debug)]
struct Cell {
    index: &'static str,
    n: usize,
    nlist: Option<u32>,
    nprobe: Option<u32>,
    m: Option<u32>,
    build_s: f64,
    add_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    qps: f64,
    recall_at_1: f64,
    recall_at_10: f64,
    index_mb: f64,
    resident_mb: f64,
}

fn embedder() -> EmbedderIdentity {
    EmbedderIdentity { kind: "bench".into(), model: "clustered".into(), dim: DIM }
}

fn records(points: &[f32]) -> Vec<VectorRecord> {
    points
        .chunks_exact(DIM)
        .enumerate()
        .map(|(i, v)| VectorRecord { id: i as i64 + 1, vector: v.to_vec(), metadata: Default::default() })
        .collect()
}

fn index_mb(dir: &Path) -> f64 {
    let bytes: u64 = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".faiss"))
                .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0);
    bytes as f64 / 1e6
}

/// Searches every query once; (sorted latencies in ms, results).
fn run_queries(rt: &Runtime, index: &FaissIndex, queries: &[f32]) -> (Vec<f64>, Vec<Vec<i64>>) {
    let mut latencies = Vec::with_capacity(QUERIES);
    let mut results = Vec::with_capacity(QUERIES);
    for q in queries.chunks_exact(DIM) {
        let start = Instant::now();
        let hits = rt
            .block_on(index.search(Collection::Models, &embedder(), q, K, &VectorFilter::default()))
            .expect("search");
        latencies.push(start.elapsed().as_secs_f64() * 1e3);
        results.push(hits.into_iter().map(|h| h.id).collect());
    }
    latencies.sort_by(f64::total_cmp);
    (latencies, results)
}

fn measure(rt: &Runtime, index: &FaissIndex, queries: &[f32], truth: &[Vec<i64>], template: &Cell) -> Cell {
    let (latencies, results) = run_queries(rt, index, queries);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
    let r1 = results.iter().zip(truth).filter(|(r, t)| r.first() == t.first()).count();
    let r10: usize =
        results.iter().zip(truth).map(|(r, t)| r.iter().filter(|id| t.contains(id)).count()).sum();
    Cell {
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        qps: 1e3 / mean,
        recall_at_1: r1 as f64 / QUERIES as f64,
        recall_at_10: r10 as f64 / (QUERIES * K) as f64,
        ..template.clone()
    }
}

/// This process's resident set in MB (`VmRSS`), 0 where /proc is missing.
fn resident_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1e3
}

/// Builds the index; returns it reopened from its files, the build time, and the memory
/// serving it takes (measured in a fresh process, see [`resident_probe`]).
fn build(rt: &Runtime, config: FaissConfig, points: &[f32], name: &str) -> (FaissIndex, f64, f64) {
    let start = Instant::now();
    rt.block_on(async {
        let index = FaissIndex::open(&config).await.expect("open");
        index.upsert(Collection::Models, &embedder(), records(points)).await.expect("upsert");
        index.optimize(Collection::Models).await.expect("optimize");
        index.flush().await.expect("flush");
    });
    let build_s = start.elapsed().as_secs_f64();
    let probe = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args([RESIDENT_PROBE, &config.path.display().to_string(), name])
        .args([config.nlist, config.m].map(|v| v.map_or("-".to_owned(), |v| v.to_string())))
        .output()
        .expect("run the resident-memory probe");
    let resident = String::from_utf8_lossy(&probe.stdout).trim().parse().unwrap_or(f64::NAN);
    let index = rt.block_on(FaissIndex::open(&config)).expect("reopen");
    (index, build_s, resident)
}

const RESIDENT_PROBE: &str = "--resident-probe";

/// In a fresh process (this binary run with `--resident-probe DIR TYPE NLIST M`): opens the
/// index, searches once, prints how much the resident set grew. A fresh process, because in
/// the building one the allocator keeps freed build buffers and reuses them.
fn resident_probe(args: &[String]) {
    let index_type = match args[1].as_str() {
        "flat" => IndexType::Flat,
        "ivf" => IndexType::Ivf,
        _ => IndexType::IvfPq,
    };
    let number = |s: &String| s.parse().ok();
    let config = FaissConfig {
        index_type,
        nlist: number(&args[2]),
        m: number(&args[3]),
        ..FaissConfig::new(&args[0])
    };
    let rt = Runtime::new().expect("runtime");
    let before = resident_mb();
    let index = rt.block_on(FaissIndex::open(&config)).expect("open");
    let query = vec![1.0 / (DIM as f32).sqrt(); DIM];
    rt.block_on(index.search(Collection::Models, &embedder(), &query, K, &VectorFilter::default()))
        .expect("search");
    println!("{:.1}", resident_mb() - before);
}

fn cells_for_size(rt: &Runtime, n: usize, cells: &mut Vec<Cell>) {
    let data = Clustered { dim: DIM, clusters: 1000, spread: 0.5, subspace: 16, noise: 0.1, seed: 42 };
    let points = data.points(n, 1);
    let queries = data.points(QUERIES, 2);
    let base = auto_nlist(n);
    eprintln!("matrix: n = {n}, auto nlist = {base}");

    let dir = tempfile::tempdir().expect("temp dir");
    let (flat, build_s, resident) = build(
        rt,
        FaissConfig { index_type: IndexType::Flat, ..FaissConfig::new(dir.path()) },
        &points,
        "flat",
    );
    let (_, truth) = run_queries(rt, &flat, &queries);
    let template = Cell {
        index: "flat",
        n,
        nlist: None,
        nprobe: None,
        m: None,
        build_s,
        add_per_s: n as f64 / build_s,
        p50_ms: 0.0,
        p99_ms: 0.0,
        qps: 0.0,
        recall_at_1: 0.0,
        recall_at_10: 0.0,
        index_mb: index_mb(dir.path()),
        resident_mb: resident,
    };
    cells.push(measure(rt, &flat, &queries, &truth, &template));
    drop(flat);

    let layouts: Vec<(&'static str, IndexType, u32, Option<u32>)> = [base / 2, base, base * 2]
        .into_iter()
        .filter(|&nlist| nlist >= 1 && 39 * nlist as usize <= n)
        .map(|nlist| ("ivf", IndexType::Ivf, nlist, None))
        .chain([24, 48].into_iter().map(|m| ("ivfpq", IndexType::IvfPq, base, Some(m))))
        .collect();
    for (name, index_type, nlist, m) in layouts {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = FaissConfig { index_type, nlist: Some(nlist), m, ..FaissConfig::new(dir.path()) };
        let (index, build_s, resident) = build(rt, config, &points, name);
        let template = Cell {
            index: name,
            nlist: Some(nlist),
            m,
            build_s,
            add_per_s: n as f64 / build_s,
            index_mb: index_mb(dir.path()),
            resident_mb: resident,
            ..template.clone()
        };
        for nprobe in [4, 8, 16, 32, 64, 128].into_iter().filter(|&p| p <= nlist) {
            rt.block_on(index.set_nprobe(Collection::Models, nprobe)).expect("nprobe");
            let cell =
                measure(rt, &index, &queries, &truth, &Cell { nprobe: Some(nprobe), ..template.clone() });
            eprintln!(
                "matrix: {name} n={n} nlist={nlist} m={m:?} nprobe={nprobe}: p50 {:.2} ms, recall@10 {:.3}",
                cell.p50_ms, cell.recall_at_10
            );
            cells.push(cell);
        }
    }
}

fn opt(v: Option<u32>) -> String {
    v.map_or("-".to_owned(), |v| v.to_string())
}

fn write_reports(cells: &[Cell], out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out)?;
    let mut md = String::from(
        "| index | n | nlist | nprobe | m | build s | add/s | p50 ms | p99 ms | QPS | recall@1 | recall@10 | index MB | resident MB |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut json = Vec::new();
    for c in cells {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.1} | {:.0} | {:.2} | {:.2} | {:.0} | {:.3} | {:.3} | {:.1} | {:.1} |",
            c.index,
            c.n,
            opt(c.nlist),
            opt(c.nprobe),
            opt(c.m),
            c.build_s,
            c.add_per_s,
            c.p50_ms,
            c.p99_ms,
            c.qps,
            c.recall_at_1,
            c.recall_at_10,
            c.index_mb,
            c.resident_mb
        )?;
        json.push(format!(
            "{{\"index\":\"{}\",\"n\":{},\"nlist\":{},\"nprobe\":{},\"m\":{},\"build_s\":{:.3},\"add_per_s\":{:.1},\
             \"p50_ms\":{:.4},\"p99_ms\":{:.4},\"qps\":{:.1},\"recall_at_1\":{:.4},\"recall_at_10\":{:.4},\"index_mb\":{:.2},\"resident_mb\":{:.1}}}",
            c.index,
            c.n,
            c.nlist.map_or("null".into(), |v| v.to_string()),
            c.nprobe.map_or("null".into(), |v| v.to_string()),
            c.m.map_or("null".into(), |v| v.to_string()),
            c.build_s,
            c.add_per_s,
            c.p50_ms,
            c.p99_ms,
            c.qps,
            c.recall_at_1,
            c.recall_at_10,
            c.index_mb,
            c.resident_mb
        ));
    }
    std::fs::write(out.join("matrix.md"), md)?;
    std::fs::write(out.join("matrix.json"), format!("[\n{}\n]\n", json.join(",\n")))?;

    let svg = out.join("recall_vs_qps.svg");
    let root = SVGBackend::new(&svg, (900, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_qps = cells.iter().map(|c| c.qps).fold(1.0, f64::max) * 1.2;
    let min_qps = cells.iter().map(|c| c.qps).fold(f64::INFINITY, f64::min).max(0.1) / 1.2;
    let min_recall = (cells.iter().map(|c| c.recall_at_10).fold(1.0, f64::min) - 0.05).max(0.0);
    let mut chart = ChartBuilder::on(&root)
        .caption("FAISS through aimdb: recall@10 vs queries/s (one query at a time)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((min_qps..max_qps).log_scale(), min_recall..1.01)?;
    chart.configure_mesh().x_desc("queries per second (log)").y_desc("recall@10").draw()?;
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for c in cells {
        let label = format!("{} n={} nlist={} m={}", c.index, c.n, opt(c.nlist), opt(c.m));
        match series.iter_mut().find(|(l, _)| *l == label) {
            Some((_, points)) => points.push((c.qps, c.recall_at_10)),
            None => series.push((label, vec![(c.qps, c.recall_at_10)])),
        }
    }
    for (i, (label, mut points)) in series.into_iter().enumerate() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == RESIDENT_PROBE) {
        return resident_probe(&args[at + 1..]);
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then this is a smoke run.
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let sizes: &[usize] = if quick { &[10_000] } else { &[10_000, 100_000, 1_000_000] };
    let rt = Runtime::new().expect("runtime");
    let mut cells = Vec::new();
    for &n in sizes {
        cells_for_size(&rt, n, &mut cells);
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").join("target/bench-matrix");
    write_reports(&cells, &out).expect("write reports");
    eprintln!("matrix: wrote {}", out.display());
}
