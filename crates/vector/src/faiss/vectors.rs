//! The exact vectors beside each FAISS index, in an append-only file.
//!
//! FAISS keeps no usable copy of the input once it quantises (IVF-PQ) and cannot list an IVF
//! index's vectors by id, yet retraining, converting to another index type, re-ranking compressed
//! results and exact filtered search all need them. Records are `[id: i64 LE][f32 LE; dim]` at
//! fixed offsets; nothing is ever rewritten in place, so a crash can only leave bytes past the
//! length the manifest recorded, which the next append cuts off. Only a checkpoint appends,
//! under the directory's exclusive lock; any number of processes read.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// An open vectors file.
#[derive(Debug)]
pub struct VectorFile {
    path: PathBuf,
    file: File,
    len: u64,
    dim: usize,
}

impl VectorFile {
    /// Creates (truncating) a file for `dim`-dimensional vectors.
    pub fn create(path: &Path, dim: usize) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path)?;
        Ok(VectorFile { path: path.to_owned(), file, len: 0, dim })
    }

    /// Opens a file whose first `len` bytes are known good; anything after them is ignored
    /// (and cut by the next append), since other processes may be reading it.
    pub fn open(path: &Path, dim: usize, len: u64) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let actual = file.metadata()?.len();
        if actual < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} holds {actual} bytes, the manifest recorded {len}", path.display()),
            ));
        }
        Ok(VectorFile { path: path.to_owned(), file, len, dim })
    }

    /// Bytes per record.
    pub fn record_len(&self) -> u64 {
        8 + 4 * self.dim as u64
    }

    /// Bytes written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends records (`vectors` holds `ids.len() * dim` floats); returns each one's offset.
    pub fn append(&mut self, ids: &[i64], vectors: &[f32]) -> io::Result<Vec<u64>> {
        debug_assert_eq!(ids.len() * self.dim, vectors.len());
        if self.file.metadata()?.len() > self.len {
            self.file.set_len(self.len)?;
        }
        let mut buf = Vec::with_capacity(ids.len() * self.record_len() as usize);
        let mut offsets = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            offsets.push(self.len + buf.len() as u64);
            buf.extend_from_slice(&id.to_le_bytes());
            for x in &vectors[i * self.dim..(i + 1) * self.dim] {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        }
        self.file.write_all_at(&buf, self.len)?;
        self.len += buf.len() as u64;
        Ok(offsets)
    }

    /// Reads the vector at `offset` into `out` (length `dim`), checking the stored id.
    /// `scratch` is reused between calls to save an allocation per read.
    pub fn read_into(&self, id: i64, offset: u64, out: &mut [f32], scratch: &mut Vec<u8>) -> io::Result<()> {
        scratch.resize(self.record_len() as usize, 0);
        let buf = scratch.as_mut_slice();
        self.file.read_exact_at(buf, offset)?;
        let stored = i64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
        if stored != id {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: record at {offset} is id {stored}, expected {id}", self.path.display()),
            ));
        }
        for (x, chunk) in out.iter_mut().zip(buf[8..].chunks_exact(4)) {
            *x = f32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        }
        Ok(())
    }

    /// Makes every appended byte durable.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_crash_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        let mut file = VectorFile::create(&path, 2).unwrap();
        let offsets = file.append(&[7, 9], &[1.0, 2.0, 3.0, -4.5]).unwrap();
        let good = file.len();
        file.append(&[11], &[5.0, 6.0]).unwrap();
        drop(file);
        let mut file = VectorFile::open(&path, 2, good).unwrap();
        let (mut out, mut scratch) = ([0.0; 2], Vec::new());
        file.read_into(9, offsets[1], &mut out, &mut scratch).unwrap();
        assert_eq!(out, [3.0, -4.5]);
        assert!(file.read_into(8, offsets[1], &mut out, &mut scratch).is_err(), "id is checked");
        file.append(&[12], &[7.0, 8.0]).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good + file.record_len(), "the tail was cut");
        file.read_into(12, good, &mut out, &mut scratch).unwrap();
        assert_eq!(out, [7.0, 8.0]);
        assert!(VectorFile::open(&path, 2, good + file.record_len() + 1).is_err());
    }
}
