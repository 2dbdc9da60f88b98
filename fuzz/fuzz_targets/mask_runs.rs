//! Fuzz the masks' zstd encoder from runs (`sink::runs`, libzstd's sequence API through
//! `unsafe` FFI): any runs of bytes, zero outside any sorted content ranges, give a frame that
//! libzstd decodes to exactly those bytes, or `None` (the caller then uses libzstd); never a
//! panic, a frame of other bytes, or a memory error under the sanitizer.
#![no_main]

use arbitrary::Arbitrary;
use cxrshard::sink::runs::compress;
use libfuzzer_sys::fuzz_target;
use std::ops::Range;

#[derive(Debug, Arbitrary)]
struct Input {
    /// (value, length) of each run; lengths up to 64 KiB, so runs cross zstd's 128 KiB blocks.
    runs: Vec<(u8, u16)>,
    /// (gap, length) of each content range after the previous one.
    content: Vec<(u16, u16)>,
}

fuzz_target!(|input: Input| {
    let mut bytes: Vec<u8> =
        input.runs.iter().take(64).flat_map(|&(v, n)| std::iter::repeat_n(v, usize::from(n))).collect();
    let mut content: Vec<Range<usize>> = Vec::new();
    let mut pos = 0;
    for &(gap, len) in input.content.iter().take(64) {
        let start = (pos + usize::from(gap)).min(bytes.len());
        let end = (start + usize::from(len)).min(bytes.len());
        content.push(start..end);
        pos = end;
    }
    // Outside the content ranges every byte is zero, as the rasteriser guarantees.
    let mut inside = vec![false; bytes.len()];
    content.iter().for_each(|r| inside[r.clone()].fill(true));
    bytes.iter_mut().zip(&inside).filter(|(_, &i)| !i).for_each(|(b, _)| *b = 0);
    if let Some(frame) = compress(&bytes, &content, 1) {
        let back = zstd::bulk::decompress(&frame, bytes.len()).expect("a frame libzstd decodes");
        assert!(back == bytes, "the frame decodes to other bytes");
    }
});
