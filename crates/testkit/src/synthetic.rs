//! Clustered synthetic vectors with a fixed seed, shared by the index suite and the benches.
//!
//! Generator: `clusters` centres drawn from a standard normal and scaled to unit length. Each
//! point belongs to centre `i % clusters` and is that centre plus a Gaussian deviation of norm
//! about `spread`: isotropic when `subspace` is 0, otherwise confined to the cluster's own
//! random `subspace`-dimensional subspace, plus isotropic noise of norm about `noise`.
//! Sentence embeddings look like the subspace form: topics far apart, each varying along few
//! directions (their intrinsic dimension is low). The random source is SplitMix64, so the same
//! seed gives the same data on every machine.

/// Parameters of a clustered data set.
#[derive(Clone, Copy, Debug)]
pub struct Clustered {
    /// Vector length.
    pub dim: usize,
    /// Number of cluster centres.
    pub clusters: usize,
    /// Deviation norm relative to the (unit) centre.
    pub spread: f32,
    /// Dimensions each cluster varies along; 0 for every dimension (isotropic).
    pub subspace: usize,
    /// Isotropic noise norm added on top of a subspace deviation.
    pub noise: f32,
    /// Seed of the centres; points and queries take their own seeds.
    pub seed: u64,
}

impl Clustered {
    /// `n` points (row-major, `n * dim` floats) drawn with `stream` as the noise seed.
    pub fn points(&self, n: usize, stream: u64) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * self.dim);
        self.for_each_point(n, stream, |p| out.extend_from_slice(p));
        out
    }

    /// Calls `f` with each of `n` points in turn, without holding them all.
    pub fn for_each_point(&self, n: usize, stream: u64, mut f: impl FnMut(&[f32])) {
        let d = self.dim;
        let centres = self.unit_vectors(self.clusters, self.seed);
        let bases = self.unit_vectors(self.clusters * self.subspace, self.seed ^ 0x5EED);
        let mut rng = SplitMix64(self.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut point = vec![0.0f32; d];
        for i in 0..n {
            let cluster = i % self.clusters;
            point.copy_from_slice(&centres[cluster * d..][..d]);
            if self.subspace == 0 {
                let sigma = self.spread / (d as f32).sqrt();
                point.iter_mut().for_each(|x| *x += sigma * rng.normal());
            } else {
                let sigma = self.spread / (self.subspace as f32).sqrt();
                for axis in bases[cluster * self.subspace * d..][..self.subspace * d].chunks_exact(d) {
                    let z = sigma * rng.normal();
                    point.iter_mut().zip(axis).for_each(|(x, a)| *x += z * a);
                }
                let sigma = self.noise / (d as f32).sqrt();
                point.iter_mut().for_each(|x| *x += sigma * rng.normal());
            }
            f(&point);
        }
    }

    /// `count` random unit vectors.
    fn unit_vectors(&self, count: usize, seed: u64) -> Vec<f32> {
        let mut rng = SplitMix64(seed);
        let mut out = Vec::with_capacity(count * self.dim);
        for _ in 0..count {
            let c: Vec<f32> = (0..self.dim).map(|_| rng.normal()).collect();
            let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
            out.extend(c.iter().map(|x| x / norm));
        }
        out
    }
}

/// The `k` rows of `data` with the highest cosine to `query`, most similar first (exact).
pub fn exact_top_k(data: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<usize> {
    let qn = norm(query);
    let mut scored: Vec<(usize, f32)> = data
        .chunks_exact(dim)
        .enumerate()
        .map(|(i, row)| (i, dot(row, query) / (norm(row) * qn).max(f32::MIN_POSITIVE)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.into_iter().take(k).map(|(i, _)| i).collect()
}

/// Cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b) / (norm(a) * norm(b)).max(f32::MIN_POSITIVE)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// SplitMix64: tiny, fast and good enough for test data.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `(0, 1]`.
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 + 1.0) / (1u64 << 24) as f32
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}
