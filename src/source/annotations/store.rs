//! Where parsed polygons wait for their row to be processed: an unlinked temporary file, so
//! that memory does not grow with the number of annotated images.
//!
//! Role: a split's annotation file is parsed in full before any image is read (a malformed
//! file fails the run at once), but a row's polygons are needed only when its image is
//! processed. At 16 bytes a vertex, 2,000 images of 20 ribs of 40 vertices hold 26 MB, and
//! 100,000 images 1.3 GB; written to a file they sit in the page cache (which the kernel may
//! evict), not in the process, and each row reads back its ~13 KB when its image is worked
//! on. Each row keeps only a [`CellRef`] (8 bytes) per label.
//!
//! The file is created with `tempfile::tempfile` in the temporary directory (`TMPDIR`) and
//! is unlinked at once, so nothing is left behind, whatever way the process ends. Where no
//! temporary file can be created (a read-only file system), the store keeps the same bytes
//! in memory. Vertices are stored as little-endian `f64` pairs, exactly as parsed.

use super::{Polygon, Polygons};
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Where one label cell's vertices are in a store, in 8 bytes (every usable row keeps one
/// per label for the whole run, so its size is per-row memory): the first vertex's index in
/// the top `VERTEX_INDEX_BITS` bits, the vertex count in the low `POINT_BITS`. A count of 0
/// is an absent rib (a polygon has at least 3 vertices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellRef(u64);

/// Bits of a [`CellRef`] holding the vertex count: up to 16,777,215 vertices in one polygon.
const POINT_BITS: u32 = 24;
/// Bits of a [`CellRef`] holding the first vertex's index: 2^40 vertices (16 TiB) in a store.
const VERTEX_INDEX_BITS: u32 = 64 - POINT_BITS;

impl CellRef {
    /// An absent rib.
    pub const ABSENT: CellRef = CellRef(0);

    /// Whether the rib is absent.
    pub fn is_absent(&self) -> bool {
        self.points() == 0
    }

    /// Number of vertices.
    fn points(&self) -> usize {
        (self.0 & ((1 << POINT_BITS) - 1)) as usize
    }

    /// Byte offset of the first vertex in the store.
    fn offset(&self) -> u64 {
        (self.0 >> POINT_BITS) * VERTEX_BYTES as u64
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
    /// An empty range, one of more than 16,777,215 vertices, or a store past 2^40 vertices.
    pub fn cell(&self, range: std::ops::Range<usize>) -> Result<CellRef, String> {
        let max_points = (1usize << POINT_BITS) - 1;
        if range.is_empty() || range.len() > max_points {
            return Err(format!("a stored polygon needs 1 to {max_points} vertices, got {}", range.len()));
        }
        let first = self.offset / VERTEX_BYTES as u64 + range.start as u64;
        if first >> VERTEX_INDEX_BITS != 0 {
            return Err(format!("the temporary polygon store is full (2^{VERTEX_INDEX_BITS} vertices)"));
        }
        Ok(CellRef(first << POINT_BITS | range.len() as u64))
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
        let (offset, size) = (cell.offset(), cell.points() * VERTEX_BYTES);
        if offset.checked_add(size as u64).is_none_or(|end| end > self.len) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{cell:?} is outside the polygon store")));
        }
        let mut bytes = vec![0u8; size];
        match &self.backing {
            Backing::File(f) => read_exact_at(f, &mut bytes, offset)?,
            Backing::Memory(v) => bytes.copy_from_slice(&v[offset as usize..][..size]),
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
        let (last, outside) = (CellRef(44 << POINT_BITS | 1), CellRef(44 << POINT_BITS | 2));
        assert_eq!(store.load(&[last]).unwrap(), vec![Some(vec![[3.0, 4.0]])]);
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
        assert!(block.cell(0..0).unwrap_err().contains("1 to 16777215 vertices, got 0"));
        assert!(block.cell(0..1 << 24).unwrap_err().contains("got 16777216"));
        assert!(block.cell((1 << 24) - 1..1 << 24).is_ok());
        let far = Block { offset: (1u64 << VERTEX_INDEX_BITS) * VERTEX_BYTES as u64 - 16 };
        assert!(far.cell(0..1).is_ok());
        assert!(far.cell(1..2).unwrap_err().contains("store is full"));
        assert_eq!(std::mem::size_of::<StoredRow>(), 16, "a boxed slice");
        assert_eq!(std::mem::size_of::<CellRef>(), 8);
    }
}
