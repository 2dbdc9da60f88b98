//! A fast path for the PNGs of the public VinDr-RibCXR release: 8-bit greyscale, not
//! interlaced. Everything else, and any file this path declines, goes to the `image` crate.
//!
//! The `image` crate (`png` 0.18) undoes each row's filter on its own, and with one byte per
//! pixel the Sub, Average and Paeth filters are a chain: every byte waits for the one before
//! it. With Average on every row (~3.5 cycles a byte) that was a third of a run's CPU time on
//! 2235 x 2347 images; with Sub on every row (what OpenCV's `imwrite` writes) a tenth.
//! Here the zlib stream is inflated whole (`fdeflate`, the inflater `png` uses) into one buffer
//! of its final size, and four rows with the same filter are undone together, pixel by pixel in
//! step (each row's pixel after the one above it), so four chains run at once (eight ran no
//! faster). Rows in mixed groups are undone one by one. The rows are undone in place and then
//! moved together, so the inflated buffer becomes the image.
//! The pixels are those `png` gives (PNG spec section 9; tested against it on files with every
//! filter, random mixes of them, split IDAT chunks and odd sizes).
//!
//! The path declines (returns `None`, and the `image` crate decodes the file as before, with
//! its own errors) on anything but a well-formed file of that kind: another colour type or bit
//! depth, interlacing, a transparency chunk, a critical chunk other than IHDR/IDAT/IEND, a bad
//! CRC, IDAT data that is not exactly the image's bytes, an unknown filter type.

/// The 8-byte PNG signature.
const SIGNATURE: [u8; 8] = [137, 80, 78, 71, 13, 10, 26, 10];

/// Rows undone together when they share a filter (`group` is written for four).
const GROUP: usize = 4;

/// Width, height and pixels (row-major, one byte each) of an 8-bit greyscale, non-interlaced
/// PNG of at most `max_pixels` pixels; `None` for anything else (see the module docs).
pub fn decode_grey8(bytes: &[u8], max_pixels: u64) -> Option<(u32, u32, Vec<u8>)> {
    let (w, h, idats) = parse(bytes.strip_prefix(&SIGNATURE)?)?;
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > max_pixels {
        return None;
    }
    let (width, height) = (w as usize, h as usize);
    let zlib: std::borrow::Cow<'_, [u8]> = match idats.as_slice() {
        [one] => (*one).into(),
        many => many.concat().into(),
    };
    let filtered = inflate(&zlib, height.checked_mul(width + 1)?)?;
    Some((w, h, unfilter(filtered, width, height)?))
}

/// IHDR's width and height and the IDAT chunks' data; `None` unless the chunks are those of an
/// 8-bit greyscale, non-interlaced image with good CRCs, IDATs consecutive, ending with IEND.
fn parse(mut rest: &[u8]) -> Option<(u32, u32, Vec<&[u8]>)> {
    let mut header = None;
    let mut idats = Vec::new();
    let mut idat_done = false;
    loop {
        let (kind, data, after) = chunk(rest)?;
        rest = after;
        match (&kind, header) {
            (b"IHDR", None) => header = Some(ihdr(data)?),
            (b"IDAT", Some(_)) if !idat_done => idats.push(data),
            (b"IEND", Some((w, h))) if !idats.is_empty() => return Some((w, h, idats)),
            // Transparency would make the image grey + alpha; other critical chunks are not
            // ours to skip.
            (b"tRNS", _) => return None,
            (k, Some(_)) if k[0].is_ascii_lowercase() => idat_done |= !idats.is_empty(),
            _ => return None,
        }
    }
}

/// The zlib stream `zlib` inflated into a buffer of exactly `size` bytes (made once: no
/// growing and copying); `None` if it does not hold exactly that many, or is not valid.
fn inflate(zlib: &[u8], size: usize) -> Option<Vec<u8>> {
    let mut d = fdeflate::Decompressor::new();
    let mut out = vec![0u8; size];
    let (mut read, mut made) = (0, 0);
    while !d.is_done() {
        let (used, produced) = d.read(&zlib[read..], &mut out, made, true).ok()?;
        if used == 0 && produced == 0 {
            // Out of room (more data than the image's rows) or out of input.
            return None;
        }
        (read, made) = (read + used, made + produced);
    }
    (made == size).then_some(out)
}

/// One chunk: its type, data and the bytes after it; `None` if cut short or its CRC is wrong.
fn chunk(b: &[u8]) -> Option<([u8; 4], &[u8], &[u8])> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let kind: [u8; 4] = b.get(4..8)?.try_into().ok()?;
    let data = b.get(8..8usize.checked_add(len)?)?;
    let crc = u32::from_be_bytes(b.get(8 + len..12 + len)?.try_into().ok()?);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&kind);
    hasher.update(data);
    (hasher.finalize() == crc).then_some((kind, data, &b[12 + len..]))
}

/// Width and height, if the header is 8-bit greyscale (colour type 0), deflate, standard
/// filters and not interlaced.
fn ihdr(d: &[u8]) -> Option<(u32, u32)> {
    let d: &[u8; 13] = d.try_into().ok()?;
    let (w, h) = (u32::from_be_bytes([d[0], d[1], d[2], d[3]]), u32::from_be_bytes([d[4], d[5], d[6], d[7]]));
    (d[8..] == [8, 0, 0, 0, 0]).then_some((w, h))
}

/// The pixels of `height` filtered rows of `width + 1` bytes (filter type, then the row),
/// undone in place and then moved together (each row one byte further left than the one
/// above): the inflated buffer becomes the image's, no second one is made.
fn unfilter(mut buf: Vec<u8>, width: usize, height: usize) -> Option<Vec<u8>> {
    let stride = width + 1;
    let filters: Vec<u8> = (0..height).map(|y| buf[y * stride]).collect();
    if filters.iter().any(|&f| f > 4) {
        return None;
    }
    let zeros = vec![0u8; width];
    let mut y = 0;
    while y < height {
        let (done, rest) = buf.split_at_mut(y * stride);
        let above = if y == 0 { &zeros[..] } else { &done[(y - 1) * stride + 1..] };
        let f = filters[y];
        if y + GROUP <= height && filters[y..y + GROUP].iter().all(|&g| g == f) && f != 0 && f != 2 {
            match f {
                1 => group::<1>(rest, stride, above, width),
                3 => group::<3>(rest, stride, above, width),
                _ => group::<4>(rest, stride, above, width),
            }
            y += GROUP;
        } else {
            row(f, &mut rest[1..stride], above);
            y += 1;
        }
    }
    for y in 0..height {
        buf.copy_within(y * stride + 1..(y + 1) * stride, y * width);
    }
    buf.truncate(width * height);
    Some(buf)
}

/// One row undone in place: filter `f`, the row's filtered bytes, the row above (zeros for the
/// first).
fn row(f: u8, x: &mut [u8], above: &[u8]) {
    match f {
        0 => {}
        2 => x.iter_mut().zip(above).for_each(|(x, &b)| *x = x.wrapping_add(b)),
        _ => {
            let (mut a, mut c) = (0u8, 0u8);
            for (x, &b) in x.iter_mut().zip(above) {
                *x = x.wrapping_add(predict(f, a, b, c));
                (a, c) = (*x, b);
            }
        }
    }
}

/// [`GROUP`] rows that share filter `F` (Sub, Average or Paeth), undone together in place: for
/// each column, each row's pixel in turn, the one above being the previous row's pixel just
/// made. `rows` starts at the first row's filter byte, rows `stride` apart.
fn group<const F: u8>(rows: &mut [u8], stride: usize, above: &[u8], width: usize) {
    let (r0, rest) = rows.split_at_mut(stride);
    let (r1, rest) = rest.split_at_mut(stride);
    let (r2, r3) = rest.split_at_mut(stride);
    let (x0, x1, x2, x3) = (&mut r0[1..], &mut r1[1..][..width], &mut r2[1..][..width], &mut r3[1..][..width]);
    let above = &above[..width];
    let (mut a, mut c) = ([0u8; GROUP], [0u8; GROUP]);
    // Slices of `width` bytes each, indexed below `width`: no bounds checks left in the loop.
    for i in 0..width {
        let b = above[i];
        let v0 = x0[i].wrapping_add(predict(F, a[0], b, c[0]));
        let v1 = x1[i].wrapping_add(predict(F, a[1], v0, c[1]));
        let v2 = x2[i].wrapping_add(predict(F, a[2], v1, c[2]));
        let v3 = x3[i].wrapping_add(predict(F, a[3], v2, c[3]));
        (x0[i], x1[i], x2[i], x3[i]) = (v0, v1, v2, v3);
        (a, c) = ([v0, v1, v2, v3], [b, v0, v1, v2]);
    }
}

/// The predictor of filter `f` from the pixels left (`a`), above (`b`) and above-left (`c`):
/// PNG spec 9.4 (filter 0 predicts 0).
#[inline(always)]
fn predict(f: u8, a: u8, b: u8, c: u8) -> u8 {
    match f {
        1 => a,
        2 => b,
        3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
        4 => {
            let p = i16::from(a) + i16::from(b) - i16::from(c);
            let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
            if pa <= pb && pa <= pc {
                a
            } else if pb <= pc {
                b
            } else {
                c
            }
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
