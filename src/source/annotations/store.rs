//! Where parsed polygons wait for their row to be processed: an unlinked temporary file, so
//! that memory does not grow with the number of annotated images.
//!
//! Role: a split's annotation file is parsed in full before any image is read (a malformed
//! file fails the run at once), but a row's polygons are needed only when its image is
//! processed. At 16 bytes a vertex, 2,000 images of 20 ribs of 40 vertices hold 26 MB, and
//! 100,000 images 1.3 GB; written to a file they sit in the page cache (which the kernel may
//! evict), not in the process, and each row reads back its ~13 KB when its image is worked
//! on. Each row keeps only a [`CellRef`] per label.
//!
//! The file is created with `tempfile::tempfile` in the temporary directory (`TMPDIR`) and
//! is unlinked at once, so nothing is left behind, whatever way the process ends. Where no
//! temporary file can be created (a read-only file system), the store keeps the same bytes
//! in memory. Vertices are stored as little-endian `f64` pairs, exactly as parsed.

use super::{Polygon, Polygons};
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Where one label cell's vertices are in a store; `points == 0` is an absent rib (a polygon
/// has at least 3 vertices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellRef {
    offset: u64,
    points: u32,
}

impl CellRef {
    /// An absent rib.
    pub const ABSENT: CellRef = CellRef { offset: 0, points: 0 };

    /// Whether the rib is absent.
    pub fn is_absent(&self) -> bool {
        self.points == 0
    }
}

/// Where a block of vertices starts in a store.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    offset: u64,
}

impl Block {
    /// The cell made of vertices `range` of the block.
    ///
    /// # Errors
    /// An empty range, or one of more than `u32::MAX` vertices.
    pub fn cell(&self, range: std::ops::Range<usize>) -> Result<CellRef, String> {
        match u32::try_from(range.len()) {
            Ok(points) if points > 0 => {
                Ok(CellRef { offset: self.offset + (range.start * VERTEX_BYTES) as u64, points })
            }
            _ => Err(format!("a stored polygon needs 1 to {} vertices, got {}", u32::MAX, range.len())),
        }
    }
}

/// A row's polygons in a store: one [`CellRef`] per configured label, in label order.
pub type StoredRow = Box<[CellRef]>;

/// Bytes per stored vertex (two `f64`).
const VERTEX_BYTES: usize = 16;

/// Appends polygons; [`PolygonWriter::finish`] turns it into the readable [`PolygonStore`].
pub struct PolygonWriter {
    sink: Sink,
    len: u64,
}

enum Sink {
    File(BufWriter<File>),
    Memory(Vec<u8>),
}

impl PolygonWriter {
    /// A writer to an unlinked temporary file, or to memory when none can be created.
    pub fn temporary() -> Self {
        match tempfile::tempfile() {
            Ok(f) => Self { sink: Sink::File(BufWriter::with_capacity(1 << 16, f)), len: 0 },
            Err(e) => {
                tracing::warn!("no temporary file for parsed polygons ({e}); keeping them in memory");
                Self::in_memory()
            }
        }
    }

    /// A writer that keeps the polygons in memory.
    pub fn in_memory() -> Self {
        Self { sink: Sink::Memory(Vec::new()), len: 0 }
    }

    /// Store a block of vertices (e.g. all of a column's); its cells are named with
    /// [`Block::cell`].
    ///
    /// # Errors
    /// Writing the temporary file failed (e.g. the disk is full).
    pub fn append_block(&mut self, points: &[[f64; 2]]) -> io::Result<Block> {
        let at = Block { offset: self.len };
        let mut bytes = Vec::with_capacity(points.len() * VERTEX_BYTES);
        for [x, y] in points {
            bytes.extend_from_slice(&x.to_le_bytes());
            bytes.extend_from_slice(&y.to_le_bytes());
        }
        match &mut self.sink {
            Sink::File(f) => f.write_all(&bytes)?,
            Sink::Memory(v) => v.extend_from_slice(&bytes),
        }
        self.len += bytes.len() as u64;
        Ok(at)
    }

    /// Bytes stored so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Flush and make the store readable.
    ///
    /// # Errors
    /// Flushing the temporary file failed.
    pub fn finish(self) -> io::Result<PolygonStore> {
        let backing = match self.sink {
            Sink::File(f) => Backing::File(f.into_inner().map_err(io::IntoInnerError::into_error)?),
            Sink::Memory(v) => Backing::Memory(v),
        };
        Ok(PolygonStore { backing, len: self.len })
    }
}

/// Read-only polygons written by a [`PolygonWriter`]; shared by the CPU workers.
pub struct PolygonStore {
    backing: Backing,
    len: u64,
}

enum Backing {
    File(File),
    Memory(Vec<u8>),
}

impl PolygonStore {
    /// Read a row's polygons back (`None` for an absent rib).
    ///
    /// # Errors
    /// A reference that is not in this store, or reading the temporary file failed.
    pub fn load(&self, row: &[CellRef]) -> io::Result<Polygons> {
        row.iter().map(|cell| (!cell.is_absent()).then(|| self.polygon(cell)).transpose()).collect()
    }

    fn polygon(&self, cell: &CellRef) -> io::Result<Polygon> {
        let size = cell.points as usize * VERTEX_BYTES;
        if cell.offset.checked_add(size as u64).is_none_or(|end| end > self.len) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{cell:?} is outside the polygon store")));
        }
        let mut bytes = vec![0u8; size];
        match &self.backing {
            Backing::File(f) => read_exact_at(f, &mut bytes, cell.offset)?,
            Backing::Memory(v) => bytes.copy_from_slice(&v[cell.offset as usize..][..size]),
        }
        let f = |b: &[u8]| f64::from_le_bytes(b.try_into().expect("8 bytes"));
        Ok(bytes.chunks_exact(VERTEX_BYTES).map(|v| [f(&v[..8]), f(&v[8..])]).collect())
    }

    /// Whether the polygons are in a temporary file (not in memory).
    pub fn on_disk(&self) -> bool {
        matches!(self.backing, Backing::File(_))
    }
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(f, buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(mut w: PolygonWriter) {
        let a = vec![[1.5, -2.25], [f64::MAX, f64::MIN_POSITIVE], [0.1, 1e-300]];
        let b = vec![[3.0, 4.0]; 40];
        let ra = w.append_block(&a).unwrap().cell(0..3).unwrap();
        let block = w.append_block(&[[9.0, 9.0]].repeat(2).into_iter().chain(b.clone()).collect::<Vec<_>>()).unwrap();
        let rb = block.cell(2..42).unwrap();
        assert_eq!(w.len(), (3 + 42) * 16);
        let store = w.finish().unwrap();
        let row = store.load(&[rb, CellRef::ABSENT, ra]).unwrap();
        assert_eq!(row, vec![Some(b), None, Some(a)]);
        let outside = CellRef { offset: 45 * 16 - 8, points: 1 };
        let err = store.load(&[outside]).unwrap_err();
        assert!(err.to_string().contains("outside the polygon store"), "{err}");
    }

    #[test]
    fn polygons_come_back_bit_exact_from_a_temporary_file() {
        let w = PolygonWriter::temporary();
        assert!(matches!(w.sink, Sink::File(_)), "the test machine can create temporary files");
        round_trip(w);
    }

    #[test]
    fn polygons_come_back_bit_exact_from_memory() {
        round_trip(PolygonWriter::in_memory());
    }

    #[test]
    fn empty_cells_are_refused() {
        let block = PolygonWriter::in_memory().append_block(&[]).unwrap();
        assert!(block.cell(0..0).unwrap_err().contains("1 to 4294967295 vertices, got 0"));
    }
}
