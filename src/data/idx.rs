//! The IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed.

use super::DataError;
use std::io::Read;
use std::path::Path;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions (e.g. `[60000, 28, 28]` for images, `[60000]` for labels).
    pub dims: Vec<usize>,
    /// Row-major data.
    pub data: Vec<u8>,
}

/// Largest decompressed file accepted (the biggest MNIST-format file is 47 MB).
const MAX_BYTES: u64 = 1 << 30;

/// Parses IDX bytes; gzip-compressed input (magic `1f 8b`) is decompressed first.
///
/// Checks: the magic number (`00 00 08 <ndim>`: unsigned-byte data only), that the header is
/// complete, and that the data length is exactly the product of the dimensions. Errors, never
/// panics.
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray, DataError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_BYTES + 1)
            .read_to_end(&mut raw)
            .map_err(|e| DataError::format("buffer", format!("corrupt gzip stream: {e}")))?;
        if raw.len() as u64 > MAX_BYTES {
            return Err(DataError::format(
                "buffer",
                "decompressed IDX data exceeds 1 GiB",
            ));
        }
        return parse_raw(&raw);
    }
    parse_raw(bytes)
}

fn parse_raw(bytes: &[u8]) -> Result<IdxArray, DataError> {
    let err = |detail: String| DataError::format("buffer", detail);
    if bytes.len() < 4 {
        return Err(err(format!(
            "{} bytes is too short for an IDX header (4 bytes of magic)",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(err(format!(
            "bad IDX magic {:02x} {:02x} {:02x} {:02x} (expected 00 00 08 <ndim>)",
            bytes[0], bytes[1], bytes[2], bytes[3]
        )));
    }
    if bytes[2] != 0x08 {
        return Err(err(format!(
            "IDX data type 0x{:02x} is not supported (expected 0x08, unsigned byte)",
            bytes[2]
        )));
    }
    let ndim = usize::from(bytes[3]);
    if ndim == 0 {
        return Err(err("IDX header declares 0 dimensions".into()));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(err(format!(
            "truncated IDX header: {} bytes, expected {header} for {ndim} dims",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| err(format!("IDX dims {dims:?} overflow")))?;
    let actual = bytes.len() - header;
    if actual != expected {
        return Err(err(format!(
            "IDX dims {dims:?} need {expected} data bytes, the file has {actual} ({})",
            if actual < expected {
                "truncated"
            } else {
                "trailing bytes"
            }
        )));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Reads and parses an IDX file (raw or `.gz`).
pub fn read_idx_file(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_idx(&bytes).map_err(|e| e.in_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    use crate::test_util::idx_bytes as idx;

    #[test]
    fn parses_raw_and_gzip() {
        let raw = idx(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let want = IdxArray {
            dims: vec![2, 3],
            data: vec![1, 2, 3, 4, 5, 6],
        };
        assert_eq!(parse_idx(&raw).unwrap(), want);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        assert_eq!(parse_idx(&gz.finish().unwrap()).unwrap(), want);
    }

    #[test]
    fn bad_headers_and_sizes_are_errors() {
        let msg = |b: &[u8]| parse_idx(b).unwrap_err().to_string();
        assert!(msg(&[0, 0, 8]).contains("too short"));
        assert!(msg(&[0, 1, 8, 1]).contains("bad IDX magic 00 01 08 01"));
        assert!(msg(&[0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]).contains("data type 0x0d"));
        assert!(msg(&[0, 0, 8, 3, 0, 0, 0, 1]).contains("truncated IDX header"));
        assert!(
            msg(&idx(&[2, 3], &[1, 2, 3]))
                .contains("need 6 data bytes, the file has 3 (truncated)")
        );
        assert!(msg(&idx(&[1], &[1, 2])).contains("trailing bytes"));
        assert!(msg(&[0x1f, 0x8b, 0, 0]).contains("corrupt gzip"));
        assert!(msg(&idx(&[u32::MAX, u32::MAX, u32::MAX], &[])).contains("overflow"));
    }

    #[test]
    fn random_and_truncated_bytes_never_panic() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(3);
        let valid = idx(&[3, 4, 4], &[7; 48]);
        for case in 0..5000 {
            let mut bytes = if case % 3 == 0 {
                (0..rng.random_range(0..40))
                    .map(|_| rng.random())
                    .collect::<Vec<u8>>()
            } else {
                valid[..rng.random_range(0..=valid.len())].to_vec()
            };
            if case % 3 == 2 && !bytes.is_empty() {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            if let Ok(array) = parse_idx(&bytes) {
                assert_eq!(array.data.len(), array.dims.iter().product::<usize>());
            }
        }
    }
}
