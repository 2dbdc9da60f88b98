//! NumPy `.npy` (format version 1.0) writer for `cxrshard decode`: a magic string, a header
//! dict padded to a multiple of 64 bytes, then C-order little-endian samples.

/// Bytes of a `.npy` file holding a C-order array of `shape` with NumPy type `descr`
/// (`"<u2"`, `"|u1"`, `"<f4"`, ...) and the raw little-endian `data`.
pub fn encode(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_describes_the_array() {
        let npy = encode("<u2", &[2, 3], &[0u8; 12]);
        let hlen = u16::from_le_bytes([npy[8], npy[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&npy[10..10 + hlen]).unwrap();
        assert_eq!(header.trim_end(), "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }");
        assert!(header.ends_with('\n'));
        assert_eq!(npy.len(), 10 + hlen + 12);
    }
}
