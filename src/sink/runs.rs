//! zstd frames of bytes that are runs of equal values (the 0/1 masks), without zstd's search
//! for matches.
//!
//! libzstd's compressor looks for a match at every position of its input: on a row's 5.2 MB
//! mask that cost ~0.6 ms (about an eighth of a run's CPU time), though a mask is a few
//! thousand runs of zeros and ones whose places the rasteriser already knows: outside each
//! label's box every byte is zero. Here the runs are found only inside the boxes ("content"
//! ranges; word-at-a-time compares), each run becomes one zstd sequence (its byte as a literal,
//! then a match of the rest at offset 1; runs shorter than a match are literals), and libzstd's
//! `ZSTD_compressSequencesAndLiterals` entropy-codes them at the configured level (Huffman
//! literals, FSE tables). The result is an ordinary zstd frame (content size in its header, no
//! checksum, as the shards' other pages), read by every zstd decoder.
//!
//! Measured on the 200-image benchmark's masks (20 x 512 x 512 bytes, ~3,000 runs a row), level
//! 1: 0.27 ms a row even scanning every byte (libzstd's own 0.62 ms), 5.2 KB a row (libzstd
//! 5.9 KB). Only level 1 (the default) is done this way ([`RUN_LEVELS`]): from level 2 on,
//! libzstd's double-fast search also finds a row in the row above shifted by its edges' slope
//! (a match this encoder never makes), and on masks of smooth wide bands its frames were half
//! the size; at negative levels (literals stored raw) the runs' frames were 9% larger.
//!
//! Bytes outside the content ranges must be zero (debug builds check it): they are encoded as
//! zeros without being read. Anything the sequence path cannot take (an incompressible block,
//! an error of libzstd, ranges out of order) gives `None`, and the caller compresses with
//! libzstd as usual.

use std::ops::Range;
use std::ptr::NonNull;
use zstd_sys::{ZSTD_CCtx, ZSTD_Sequence};

/// The zstd levels at which runs are compressed this way (see the module docs).
pub const RUN_LEVELS: std::ops::RangeInclusive<i32> = 1..=1;

/// Bytes of output one zstd block holds at most (`ZSTD_BLOCKSIZE_MAX`).
const BLOCK: usize = 128 << 10;

/// The shortest match zstd encodes (`ZSTD_MINMATCH_MIN`).
const MIN_MATCH: usize = 3;

/// `bytes` as one zstd frame at `level`, given that every byte outside `content` (sorted,
/// disjoint ranges of `bytes`) is zero; `None` where this path does not apply (see the module
/// docs), never a frame of other bytes.
pub fn compress(bytes: &[u8], content: &[Range<usize>], level: i32) -> Option<Vec<u8>> {
    let ordered = content.iter().try_fold(0, |pos, r| (pos <= r.start && r.start <= r.end).then_some(r.end));
    if bytes.is_empty() || !RUN_LEVELS.contains(&level) || ordered.is_none_or(|end| end > bytes.len()) {
        return None;
    }
    debug_assert!(outside_is_zero(bytes, content), "non-zero bytes outside the content ranges");
    let mut seqs = Sequences::default();
    let mut run = Run::default();
    let mut pos = 0;
    for r in content {
        run.add(0, r.start - pos, &mut seqs);
        let mut i = r.start;
        while i < r.end {
            let end = run_end(&bytes[..r.end], i);
            run.add(bytes[i], end - i, &mut seqs);
            i = end;
        }
        pos = r.end;
    }
    run.add(0, bytes.len() - pos, &mut seqs);
    run.flush(&mut seqs);
    seqs.finish();
    CONTEXT.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.as_ref().is_none_or(|c| c.level != level) {
            *slot = Some(Context::new(level)?);
        }
        slot.as_mut().expect("set above").compress(&seqs, bytes.len())
    })
}

/// The run being gathered: consecutive pieces of the same byte are one run.
#[derive(Default)]
struct Run {
    value: u8,
    len: usize,
}

impl Run {
    fn add(&mut self, value: u8, len: usize, seqs: &mut Sequences) {
        if len == 0 {
            return;
        }
        if value != self.value {
            self.flush(seqs);
            self.value = value;
        }
        self.len += len;
    }

    fn flush(&mut self, seqs: &mut Sequences) {
        seqs.run(self.value, self.len);
        self.len = 0;
    }
}

/// zstd sequences with explicit block ends, and their literals.
#[derive(Default)]
struct Sequences {
    seqs: Vec<ZSTD_Sequence>,
    literals: Vec<u8>,
    /// Literals since the last sequence.
    pending: u32,
    /// Bytes of output in the current block.
    in_block: usize,
    /// The last byte of output so far.
    last: Option<u8>,
}

impl Sequences {
    /// `len` bytes of `value`, split at block ends.
    fn run(&mut self, value: u8, mut len: usize) {
        while len > 0 {
            let take = len.min(BLOCK - self.in_block);
            self.piece(value, take);
            self.in_block += take;
            len -= take;
            if self.in_block == BLOCK {
                self.end_block();
            }
        }
    }

    /// A run inside one block: a match at offset 1 when the byte before is `value` already,
    /// else the byte as a literal and the rest as that match; too short for a match, literals.
    fn piece(&mut self, value: u8, len: usize) {
        if self.last == Some(value) && len >= MIN_MATCH {
            self.sequence(len);
        } else if len > MIN_MATCH {
            self.literal(value, 1);
            self.sequence(len - 1);
        } else {
            self.literal(value, len);
        }
        self.last = Some(value);
    }

    fn literal(&mut self, value: u8, n: usize) {
        self.literals.extend(std::iter::repeat_n(value, n));
        self.pending += n as u32;
    }

    fn sequence(&mut self, match_len: usize) {
        // A block is at most 128 KiB: every length fits a `u32`.
        let s = ZSTD_Sequence { offset: 1, litLength: self.pending, matchLength: match_len as u32, rep: 0 };
        self.seqs.push(s);
        self.pending = 0;
    }

    /// The block delimiter: offset 0, no match, the block's last literals.
    fn end_block(&mut self) {
        self.seqs.push(ZSTD_Sequence { offset: 0, litLength: self.pending, matchLength: 0, rep: 0 });
        self.pending = 0;
        self.in_block = 0;
    }

    fn finish(&mut self) {
        if self.in_block > 0 {
            self.end_block();
        }
        // libzstd reads up to 8 bytes past the literals.
        self.literals.reserve(8);
    }
}

/// The end of the run of equal bytes that starts at `start` (`start < b.len()`).
fn run_end(b: &[u8], start: usize) -> usize {
    let v = b[start];
    let splat = u64::from_ne_bytes([v; 8]);
    let word = |i: usize| u64::from_ne_bytes(b[i..i + 8].try_into().expect("8 bytes")) ^ splat;
    let mut i = start + 1;
    while i + 32 <= b.len() && word(i) | word(i + 8) | word(i + 16) | word(i + 24) == 0 {
        i += 32;
    }
    while i < b.len() && b[i] == v {
        i += 1;
    }
    i
}

/// Whether every byte outside `content` (ordered, in bounds) is zero.
fn outside_is_zero(bytes: &[u8], content: &[Range<usize>]) -> bool {
    let ends = content.iter().map(|r| r.end);
    let gaps = std::iter::once(0).chain(ends).zip(content.iter().map(|r| r.start).chain([bytes.len()]));
    gaps.into_iter().all(|(a, b)| bytes[a..b].iter().all(|&v| v == 0))
}

thread_local! {
    /// This thread's sequence-compression context (and its level) and output scratch buffer.
    static CONTEXT: std::cell::RefCell<Option<Context>> = const { std::cell::RefCell::new(None) };
}

/// A libzstd compression context set up for explicit sequences at one level.
struct Context {
    cctx: NonNull<ZSTD_CCtx>,
    level: i32,
    scratch: Vec<u8>,
}

impl Context {
    fn new(level: i32) -> Option<Self> {
        use zstd_sys::ZSTD_cParameter as P;
        // SAFETY: plain constructor; null (out of memory) is checked.
        let cctx = NonNull::new(unsafe { zstd_sys::ZSTD_createCCtx() })?;
        let ctx = Context { cctx, level, scratch: Vec::new() };
        // `ZSTD_c_blockDelimiters` = `ZSTD_sf_explicitBlockDelimiters` (the sequences say where
        // blocks end); the shortest match is 3 (the default of the fast levels is more); no
        // checksum (the default; the sequence API cannot write one).
        let params = [(P::ZSTD_c_compressionLevel, level), (P::ZSTD_c_experimentalParam11, 1), (P::ZSTD_c_minMatch, 3)];
        for (p, v) in params {
            // SAFETY: a live context; an invalid value is reported, not undefined.
            let r = unsafe { zstd_sys::ZSTD_CCtx_setParameter(ctx.cctx.as_ptr(), p, v) };
            if is_error(r) {
                return None;
            }
        }
        Some(ctx)
    }

    /// The frame of `seqs`, which make `size` bytes; `None` on any libzstd error.
    fn compress(&mut self, seqs: &Sequences, size: usize) -> Option<Vec<u8>> {
        self.scratch.clear();
        // SAFETY: a plain function of a size.
        self.scratch.reserve(unsafe { zstd_sys::ZSTD_compressBound(size) });
        // SAFETY: the context is live and set for explicit block delimiters without checksum or
        // validation (the API's conditions); the sequences end every block and add up to
        // `size` bytes with exactly `literals.len()` literals, whose buffer has 8 spare bytes
        // of capacity; the output is the scratch buffer's capacity. libzstd writes at most
        // `capacity` bytes and returns how many, or an error code.
        let written = unsafe {
            zstd_sys::ZSTD_compressSequencesAndLiterals(
                self.cctx.as_ptr(),
                self.scratch.as_mut_ptr().cast(),
                self.scratch.capacity(),
                seqs.seqs.as_ptr(),
                seqs.seqs.len(),
                seqs.literals.as_ptr().cast(),
                seqs.literals.len(),
                seqs.literals.capacity(),
                size,
            )
        };
        if is_error(written) {
            return None;
        }
        // SAFETY: libzstd initialised the first `written` bytes (at most the capacity).
        unsafe { self.scratch.set_len(written) };
        Some(self.scratch.clone())
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: created by `ZSTD_createCCtx`, freed once.
        unsafe { zstd_sys::ZSTD_freeCCtx(self.cctx.as_ptr()) };
    }
}

fn is_error(code: usize) -> bool {
    // SAFETY: a plain function of a return code.
    unsafe { zstd_sys::ZSTD_isError(code) != 0 }
}

#[cfg(test)]
mod tests;
