//! Differential fuzzing of the PNG path against the `image` crate (`png`): well-formed 8-bit
//! greyscale PNGs (what the public VinDr-RibCXR release ships, taken by cxrshard's own fast
//! path) with arbitrary sizes, per-row filter types (valid or not), pixel bytes, IDAT splits,
//! ancillary chunks and damage (a cut, a bad CRC). Whatever cxrshard decodes must be the pixels
//! `image` decodes, and it must decode every file `image` decodes.
#![no_main]

use arbitrary::Arbitrary;
use cxrshard::source::decode::decode_raster;
use cxrshard::source::image::Samples;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Png {
    width: u8,
    height: u8,
    /// One filter type per row (0..=4 valid), cycled.
    filters: Vec<u8>,
    /// Filtered row bytes, cycled.
    data: Vec<u8>,
    /// Where the zlib stream is split into IDAT chunks.
    splits: Vec<u16>,
    /// An ancillary chunk (`tEXt`) after IHDR and/or after the IDATs.
    text: (bool, bool),
    /// Damage: cut the file at this byte, or flip a byte.
    cut: Option<u16>,
    flip: Option<u16>,
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

fn file(p: &Png) -> Vec<u8> {
    let (w, h) = (usize::from(p.width % 64) + 1, usize::from(p.height % 64) + 1);
    let mut raw = Vec::with_capacity(h * (w + 1));
    let mut data = p.data.iter().copied().cycle();
    for y in 0..h {
        raw.push(p.filters.get(y % p.filters.len().max(1)).map_or(0, |f| f % 6));
        raw.extend((0..w).map(|x| data.next().unwrap_or((x * 7 + y) as u8)));
    }
    let zlib = fdeflate::compress_to_vec(&raw);
    let mut out = vec![137, 80, 78, 71, 13, 10, 26, 10];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, filter 0, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    if p.text.0 {
        chunk(&mut out, b"tEXt", b"Comment\0fuzz");
    }
    let mut at = 0;
    let mut splits: Vec<usize> = p.splits.iter().take(8).map(|&s| usize::from(s) % (zlib.len() + 1)).collect();
    splits.sort_unstable();
    for s in splits.into_iter().chain([zlib.len()]) {
        chunk(&mut out, b"IDAT", &zlib[at..s.max(at)]);
        at = s.max(at);
    }
    if p.text.1 {
        chunk(&mut out, b"tEXt", b"Comment\0after");
    }
    chunk(&mut out, b"IEND", &[]);
    if let Some(i) = p.flip.map(|i| usize::from(i) % out.len()) {
        out[i] ^= 0x5A;
    }
    if let Some(n) = p.cut.map(|n| usize::from(n) % (out.len() + 1)) {
        out.truncate(n);
    }
    out
}

fuzz_target!(|p: Png| {
    let bytes = file(&p);
    let ours = decode_raster(&bytes);
    let reference = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png);
    match (ours, reference) {
        (Ok(img), Ok(reference)) => {
            let reference = reference.into_luma8();
            assert_eq!((img.width, img.height), reference.dimensions(), "size");
            let Samples::U8(pixels) = &img.samples else { panic!("8-bit PNG decoded to 16-bit samples") };
            assert!(pixels[..] == reference.as_raw()[..], "pixels differ from the png crate's");
        }
        (Ok(_), Err(e)) => panic!("decoded a file the png crate rejects: {e}"),
        (Err(e), Ok(_)) => panic!("rejected a file the png crate decodes: {e}"),
        (Err(_), Err(_)) => {}
    }
});
