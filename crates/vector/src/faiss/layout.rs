//! Which FAISS index a collection uses, chosen from the configuration and its size.

use aimdb_core::config::{FaissConfig, IndexType};
use aimdb_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Below this many vectors `auto` searches exactly (the seed's threshold).
pub const AUTO_IVF_FROM: usize = 10_000;
/// Above this many vectors `auto` compresses with product quantisation (the seed's threshold).
pub const AUTO_IVFPQ_ABOVE: usize = 1_000_000;
/// k-means wants this many training points per centroid; fewer gives poor lists.
const POINTS_PER_CENTROID: usize = 39;

/// The structure of one collection's FAISS index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Layout {
    /// Exact inner-product search.
    Flat,
    /// Inverted file over exact vectors.
    Ivf {
        /// Lists.
        nlist: u32,
    },
    /// Inverted file over product-quantised codes.
    IvfPq {
        /// Lists.
        nlist: u32,
        /// Sub-quantisers.
        m: u32,
        /// Bits per code.
        nbits: u32,
    },
}

impl Layout {
    /// The `index_factory` description (inner product on unit vectors). Flat sits in an `IDMap2` so entity ids can be used as
    /// labels; IVF lists store labels themselves.
    pub fn factory(self) -> String {
        match self {
            Layout::Flat => "IDMap2,Flat".to_owned(),
            Layout::Ivf { nlist } => format!("IVF{nlist},Flat"),
            // `np`: no polysemous training, which only serves Hamming-filtered search (unused
            // here) and took 55 s of a 57 s build at 20k vectors.
            Layout::IvfPq { nlist, m, nbits } => format!("IVF{nlist},PQ{m}x{nbits}np"),
        }
    }

    /// Vectors needed before training gives a useful index.
    pub fn min_train(self) -> usize {
        match self {
            Layout::Flat => 0,
            Layout::Ivf { nlist } => POINTS_PER_CENTROID * nlist as usize,
            Layout::IvfPq { nlist, nbits, .. } => POINTS_PER_CENTROID * (nlist as usize).max(1usize << nbits),
        }
    }

    /// `flat`, `ivf` or `ivfpq`.
    pub fn kind(self) -> &'static str {
        match self {
            Layout::Flat => "flat",
            Layout::Ivf { .. } => "ivf",
            Layout::IvfPq { .. } => "ivfpq",
        }
    }

    /// Whether scores from the index are approximate (compressed codes).
    pub fn lossy(self) -> bool {
        matches!(self, Layout::IvfPq { .. })
    }

    /// IVF lists, if any.
    pub fn nlist(self) -> Option<u32> {
        match self {
            Layout::Flat => None,
            Layout::Ivf { nlist } | Layout::IvfPq { nlist, .. } => Some(nlist),
        }
    }
}

/// Turns a [`FaissConfig`] into layouts for a given size.
#[derive(Clone, Debug)]
pub struct Planner {
    index_type: IndexType,
    nlist: Option<u32>,
    nprobe: Option<u32>,
    m: Option<u32>,
    nbits: Option<u32>,
}

impl Planner {
    /// Checks the configuration's numbers; each error names its key.
    pub fn new(config: &FaissConfig) -> Result<Self> {
        let positive = |key: &str, value: Option<u32>| match value {
            Some(0) => Err(Error::config(format!("vectors.{key} must be at least 1"))),
            _ => Ok(()),
        };
        positive("nlist", config.nlist)?;
        positive("nprobe", config.nprobe)?;
        positive("m", config.m)?;
        if let Some(nbits) = config.nbits
            && !(1..=16).contains(&nbits)
        {
            return Err(Error::config(format!("vectors.nbits must be between 1 and 16, not {nbits}")));
        }
        Ok(Planner {
            index_type: config.index_type,
            nlist: config.nlist,
            nprobe: config.nprobe,
            m: config.m,
            nbits: config.nbits,
        })
    }

    /// The layout a collection of `n` vectors of `dim` dimensions should have.
    pub fn target(&self, n: usize, dim: usize) -> Result<Layout> {
        let ivf = || Layout::Ivf { nlist: self.nlist.unwrap_or_else(|| auto_nlist(n)) };
        let ivfpq = || -> Result<Layout> {
            let m = self.m.unwrap_or_else(|| auto_m(dim));
            if !dim.is_multiple_of(m as usize) {
                return Err(Error::config(format!("vectors.m = {m} must divide the dimension {dim}")));
            }
            Ok(Layout::IvfPq {
                nlist: self.nlist.unwrap_or_else(|| auto_nlist(n)),
                m,
                nbits: self.nbits.unwrap_or(8),
            })
        };
        Ok(match self.index_type {
            IndexType::Flat => Layout::Flat,
            IndexType::Ivf => ivf(),
            IndexType::IvfPq => ivfpq()?,
            IndexType::Auto if n < AUTO_IVF_FROM => Layout::Flat,
            IndexType::Auto if n <= AUTO_IVFPQ_ABOVE => ivf(),
            IndexType::Auto => ivfpq()?,
        })
    }

    /// Lists probed per query for `layout`.
    pub fn nprobe(&self, layout: Layout) -> Option<u32> {
        let nlist = layout.nlist()?;
        Some(self.nprobe.unwrap_or_else(|| auto_nprobe(nlist)).min(nlist))
    }
}

/// A power of two near `sqrt(n)`, kept small enough that every list gets enough training points.
pub fn auto_nlist(n: usize) -> u32 {
    let mut nlist = ((n as f64).sqrt().ceil() as usize).next_power_of_two().max(1);
    while nlist > 1 && POINTS_PER_CENTROID * nlist > n {
        nlist /= 2;
    }
    nlist as u32
}

/// One list in sixteen, at least eight: recall above 0.95 on clustered data (see the benches).
pub fn auto_nprobe(nlist: u32) -> u32 {
    (nlist / 16).max(8).min(nlist)
}

/// Eight dimensions per sub-quantiser (48 bytes a vector at 384 dimensions), or the largest
/// divisor of `dim` not above `dim / 8`.
pub fn auto_m(dim: usize) -> u32 {
    let want = (dim / 8).max(1);
    (1..=want).rev().find(|m| dim.is_multiple_of(*m)).unwrap_or(1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planner(index_type: IndexType) -> Planner {
        let mut config = FaissConfig::new("unused");
        config.index_type = index_type;
        Planner::new(&config).unwrap()
    }

    #[test]
    fn auto_follows_the_seed_thresholds() {
        let p = planner(IndexType::Auto);
        assert_eq!(p.target(9_999, 384).unwrap(), Layout::Flat);
        assert_eq!(p.target(10_000, 384).unwrap().kind(), "ivf");
        assert_eq!(p.target(1_000_000, 384).unwrap().kind(), "ivf");
        assert_eq!(p.target(1_000_001, 384).unwrap(), Layout::IvfPq { nlist: 1024, m: 48, nbits: 8 });
    }

    #[test]
    fn lists_always_get_enough_training_points() {
        for n in [1, 10, 500, 10_000, 100_000, 1_000_000, 5_000_000] {
            let nlist = auto_nlist(n);
            assert!(nlist >= 1 && (nlist == 1 || 39 * nlist as usize <= n), "n={n} nlist={nlist}");
        }
        assert_eq!(auto_nlist(10_000), 128);
        assert_eq!(auto_nlist(1_000_000), 1024);
    }

    #[test]
    fn m_divides_the_dimension() {
        assert_eq!(auto_m(384), 48);
        assert_eq!(auto_m(100), 10);
        assert_eq!(auto_m(7), 1);
        let mut config = FaissConfig::new("unused");
        config.index_type = IndexType::IvfPq;
        config.m = Some(7);
        let err = Planner::new(&config).unwrap().target(100, 384).unwrap_err();
        assert!(err.to_string().contains("vectors.m"), "{err}");
    }

    #[test]
    fn bad_numbers_name_their_key() {
        let mut config = FaissConfig::new("unused");
        config.nprobe = Some(0);
        assert!(Planner::new(&config).unwrap_err().to_string().contains("vectors.nprobe"));
        config.nprobe = None;
        config.nbits = Some(40);
        assert!(Planner::new(&config).unwrap_err().to_string().contains("vectors.nbits"));
    }

    #[test]
    fn nprobe_never_exceeds_nlist() {
        let p = planner(IndexType::Ivf);
        assert_eq!(p.nprobe(Layout::Ivf { nlist: 4 }), Some(4));
        assert_eq!(p.nprobe(Layout::Ivf { nlist: 1024 }), Some(64));
        assert_eq!(p.nprobe(Layout::Flat), None);
    }
}
