//! The fast path gives the `image` crate's pixels on every file it takes, and declines the
//! rest.

use super::decode_grey8;
use rand::{Rng, SeedableRng};

const MAX: u64 = 1 << 40;

/// A PNG of `pixels` (`w` x `h`, 8-bit grey) filtered row by row with `filters`, its zlib
/// stream split into IDAT chunks of `split` bytes, `extra` ancillary chunks before the first
/// and after the last IDAT.
fn png(w: usize, h: usize, pixels: &[u8], filters: &[u8], split: usize, extra: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut stream = Vec::with_capacity(h * (w + 1));
    for y in 0..h {
        let f = filters[y % filters.len()];
        stream.push(f);
        let px = |x: Option<usize>, y: Option<usize>| match (x, y) {
            (Some(x), Some(y)) => pixels[y * w + x],
            _ => 0,
        };
        for x in 0..w {
            let (a, b, c) =
                (px(x.checked_sub(1), Some(y)), px(Some(x), y.checked_sub(1)), px(x.checked_sub(1), y.checked_sub(1)));
            stream.push(pixels[y * w + x].wrapping_sub(super::predict(f, a, b, c)));
        }
    }
    let zlib = fdeflate::compress_to_vec(&stream);
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut out = super::SIGNATURE.to_vec();
    put(&mut out, b"IHDR", &ihdr);
    extra.iter().for_each(|(k, d)| put(&mut out, k, d));
    zlib.chunks(split.max(1)).for_each(|c| put(&mut out, b"IDAT", c));
    extra.iter().for_each(|(k, d)| put(&mut out, k, d));
    put(&mut out, b"IEND", &[]);
    out
}

fn put(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// What `decode_raster` gave before this path: the `image` crate's 8-bit grey pixels.
fn image_crate(bytes: &[u8]) -> Vec<u8> {
    image::load_from_memory(bytes).expect("the image crate reads it").into_luma8().into_raw()
}

/// Smooth pixels with noise (neighbours alike, as in an X-ray, so every predictor matters).
fn pixels(rng: &mut impl Rng, w: usize, h: usize) -> Vec<u8> {
    (0..w * h).map(|i| ((i % w) * 3 + (i / w) * 2) as u8 ^ rng.random_range(0..16u8)).collect()
}

#[test]
fn every_filter_and_mix_gives_the_image_crates_pixels() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let uniform: Vec<Vec<u8>> = (0..5).map(|f| vec![f]).collect();
    for case in 0..60 {
        let (w, h) = (rng.random_range(1..70), rng.random_range(1..70));
        let px = pixels(&mut rng, w, h);
        let random: Vec<u8> = (0..h).map(|_| rng.random_range(0..5)).collect();
        // Runs of the same filter, some of them four rows or longer.
        let runs: Vec<u8> = (0..h).map(|y| ((y / rng.random_range(1..9)) % 5) as u8).collect();
        for filters in uniform.iter().chain([&random, &runs]) {
            let file = png(w, h, &px, filters, rng.random_range(1..400), &[]);
            let (gw, gh, got) = decode_grey8(&file, MAX).unwrap_or_else(|| panic!("case {case}: declined"));
            assert_eq!((gw as usize, gh as usize), (w, h));
            assert_eq!(got, px, "case {case} ({w} x {h}), filters {filters:?}");
            assert_eq!(got, image_crate(&file), "case {case}");
        }
    }
}

/// Files written by the `image` crate's own encoder (adaptive filters), one wide and one
/// CXR-sized, with ancillary chunks around the image data.
#[test]
fn files_of_other_encoders_and_ancillary_chunks_read_alike() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for (w, h) in [(2001, 9), (1200, 1300)] {
        let px = pixels(&mut rng, w, h);
        let img = image::GrayImage::from_raw(w as u32, h as u32, px.clone()).unwrap();
        let mut file = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut file), image::ImageFormat::Png).unwrap();
        assert_eq!(decode_grey8(&file, MAX).map(|d| d.2), Some(px.clone()), "{w} x {h}");
        let text: &[(&[u8; 4], &[u8])] = &[(b"tEXt", b"Comment\0synthetic"), (b"gAMA", &[0, 1, 134, 160])];
        let file = png(w, h, &px, &[4, 4, 4, 4, 1, 3, 3, 3, 3, 3], 8192, text);
        assert_eq!(decode_grey8(&file, MAX).map(|d| d.2), Some(px), "{w} x {h}, ancillary chunks");
    }
}

#[test]
fn anything_else_is_declined() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let (w, h) = (40, 30);
    let px = pixels(&mut rng, w, h);
    let good = png(w, h, &px, &[4], 100, &[]);
    assert!(decode_grey8(&good, MAX).is_some());
    assert!(decode_grey8(&good, (w * h - 1) as u64).is_none(), "over the pixel limit");
    assert!(decode_grey8(&good[..good.len() - 5], MAX).is_none(), "cut short");
    let mut bad_crc = good.clone();
    bad_crc[40] ^= 1;
    assert!(decode_grey8(&bad_crc, MAX).is_none(), "a bad CRC");
    assert!(decode_grey8(&png(w, h, &px, &[5], 100, &[]), MAX).is_none(), "filter type 5");
    assert!(decode_grey8(&png(w, h, &px, &[1], 100, &[(b"tRNS", &[0, 7])]), MAX).is_none(), "transparency");
    assert!(
        decode_grey8(&png(w, h, &px, &[1], 100, &[(b"PLTE", &[0, 0, 0])]), MAX).is_none(),
        "another critical chunk"
    );
    // An ancillary chunk between two IDATs: IDATs must be consecutive.
    let mut split = png(w, h, &px, &[1], 100, &[]);
    let second_idat = split.windows(4).enumerate().filter(|(_, k)| k == b"IDAT").nth(1).unwrap().0 - 4;
    let mut text = Vec::new();
    put(&mut text, b"tEXt", b"a\0b");
    split.splice(second_idat..second_idat, text);
    assert!(decode_grey8(&split, MAX).is_none(), "IDATs apart");
    // Header variants: 16-bit, RGB, interlaced (the rest of the file as the good one's).
    for (offset, value) in [(24, 16u8), (25, 2), (28, 1)] {
        let mut file = good.clone();
        file[offset] = value;
        let crc = crc32fast::hash(&file[12..29]);
        file[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(decode_grey8(&file, MAX).is_none(), "IHDR byte {offset} = {value}");
    }
    // More image data than the header's rows.
    let mut long = png(w, h, &px, &[1], 100_000, &[]);
    let ihdr_h = 20;
    long[ihdr_h..ihdr_h + 4].copy_from_slice(&((h - 1) as u32).to_be_bytes());
    let crc = crc32fast::hash(&long[12..29]);
    long[29..33].copy_from_slice(&crc.to_be_bytes());
    assert!(decode_grey8(&long, MAX).is_none(), "more image data than the header's rows");
    assert!(decode_grey8(b"not a png at all", MAX).is_none());
}
