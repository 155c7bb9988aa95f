//! What the CPU loops read an input from: float values, or spikes as bits.
//!
//! The backward passes keep a layer's spikes as one bit per element
//! ([`pack_bits`](super::event::pack_bits)). The loops that need them again (the event-driven
//! weight gradient, the scale gradient, the recomputed PSP of the statistic) read the bits
//! through [`Source`] directly, a row or a whole frame at a time, instead of unpacking the
//! whole tensor to floats first.

use super::cpu::Real;

/// A read-only `[len]` buffer: float values, or `0`/`1` values packed as bits (`x[8j + i]` is
/// bit `i` of byte `j`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source<'a, F> {
    Values(&'a [F]),
    Bits { bits: &'a [u8], len: usize },
}

impl<'a, F: Real> Source<'a, F> {
    /// Bits of `len` values.
    ///
    /// # Panics
    /// If `bits` holds fewer than `len` bits.
    pub(crate) fn bits(bits: &'a [u8], len: usize) -> Self {
        assert!(
            bits.len() * 8 >= len,
            "Source::bits: {len} values need {} bytes, got {}",
            len.div_ceil(8),
            bits.len()
        );
        Self::Bits { bits, len }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Values(v) => v.len(),
            Self::Bits { len, .. } => *len,
        }
    }

    /// The values `start..start + buf.len()`: a slice of the values, or the bits unpacked into
    /// `buf`.
    #[inline(always)]
    pub(crate) fn row<'b>(&'b self, start: usize, buf: &'b mut [F]) -> &'b [F] {
        match *self {
            Self::Values(v) => &v[start..start + buf.len()],
            Self::Bits { bits, len } => {
                assert!(start + buf.len() <= len, "Source::row: out of range");
                // 56 bits per word read, each expanded by a shift (no load per bit).
                for (i, chunk) in buf.chunks_mut(56).enumerate() {
                    let w = word(bits, start + i * 56, chunk.len());
                    for (j, out) in chunk.iter_mut().enumerate() {
                        *out = if w >> j & 1 == 1 { F::ONE } else { F::ZERO };
                    }
                }
                buf
            }
        }
    }

    /// Whether the values `start..start + len` are all ±0.
    #[inline(always)]
    pub(crate) fn is_zero(&self, start: usize, len: usize) -> bool {
        match *self {
            Self::Values(v) => is_zero(&v[start..start + len]),
            Self::Bits { bits, .. } => {
                let mut at = start;
                let end = start + len;
                while at < end {
                    let n = (end - at).min(56);
                    if word(bits, at, n) != 0 {
                        return false;
                    }
                    at += n;
                }
                true
            }
        }
    }

    /// Calls `f(i, value)` for every nonzero value `start + i` of `start..start + len`, in order.
    #[inline(always)]
    pub(crate) fn for_each_nonzero(&self, start: usize, len: usize, mut f: impl FnMut(usize, F)) {
        match *self {
            Self::Values(v) => {
                // A mask of 64 values at a time, then its set bits: most values of a spike
                // map are 0.
                for (i, chunk) in v[start..start + len].chunks(64).enumerate() {
                    let mut mask = nonzero_mask(chunk);
                    while mask != 0 {
                        let j = mask.trailing_zeros() as usize;
                        f(i * 64 + j, chunk[j]);
                        mask &= mask - 1;
                    }
                }
            }
            Self::Bits { bits, .. } => {
                let mut offset = 0;
                while offset < len {
                    let n = (len - offset).min(56);
                    let mut w = word(bits, start + offset, n);
                    while w != 0 {
                        f(offset + w.trailing_zeros() as usize, F::ONE);
                        w &= w - 1;
                    }
                    offset += n;
                }
            }
        }
    }

    /// `Σ x[start + i]·other[i]` over `other`, in `f64`.
    pub(crate) fn dot(&self, start: usize, other: &[F]) -> f64 {
        match *self {
            Self::Values(v) => v[start..start + other.len()]
                .iter()
                .zip(other)
                .map(|(&a, &b)| (a * b).to_f64())
                .sum(),
            Self::Bits { .. } => {
                let mut sum = 0.0;
                self.for_each_nonzero(start, other.len(), |i, _| sum += other[i].to_f64());
                sum
            }
        }
    }
}

/// The `n ≤ 56` bits from bit `at` on, in the low bits of the result (bits past the end of
/// `bits` read as 0).
#[inline(always)]
fn word(bits: &[u8], at: usize, n: usize) -> u64 {
    debug_assert!(n <= 56);
    let byte = at >> 3;
    let shift = at & 7;
    let raw = match bits.get(byte..byte + 8) {
        // One 8-byte load. Copying a variable number of bytes into a buffer and reading it
        // back as one word stalls the load (the store cannot be forwarded); the event loops'
        // row checks read this way made a training step 5–6% slower.
        Some(eight) => u64::from_le_bytes(eight.try_into().expect("8 bytes")),
        None => {
            let mut raw = [0u8; 8];
            let avail = bits.len().saturating_sub(byte).min(8);
            raw[..avail].copy_from_slice(&bits[byte..byte + avail]);
            u64::from_le_bytes(raw)
        }
    };
    (raw >> shift) & ((1u64 << n) - 1)
}

/// Bit `j` set where `values[j]` is nonzero (±0 count as zero, NaN as nonzero), for at most
/// 64 values; the same bits as [`Real::magnitude_bits`] for every value, under any FPU mode.
/// For 64 `f32` on a CPU with AVX2: eight integer compares and `movemask`s (the portable form
/// below compiles to shifts of 64-bit lanes instead, several times slower).
#[inline(always)]
pub(crate) fn nonzero_mask<F: Real>(values: &[F]) -> u64 {
    debug_assert!(values.len() <= 64);
    #[cfg(target_arch = "x86_64")]
    if core::any::TypeId::of::<F>() == core::any::TypeId::of::<f32>()
        && values.len() == 64
        && std::arch::is_x86_feature_detected!("avx2")
    {
        // SAFETY: `F` is `f32`, and `values` holds 64 of them; AVX2 was detected.
        return unsafe { nonzero_mask_f32x64(values.as_ptr().cast::<f32>()) };
    }
    values.iter().enumerate().fold(0, |mask, (j, v)| {
        mask | u64::from(v.magnitude_bits() != 0) << j
    })
}

/// [`nonzero_mask`] of the 64 `f32` from `values` on.
///
/// # Safety
/// The CPU has AVX2; `values` points to 64 readable `f32`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn nonzero_mask_f32x64(values: *const f32) -> u64 {
    use core::arch::x86_64::*;
    let zero = _mm256_setzero_si256();
    let mut mask = 0u64;
    for i in 0..8 {
        // SAFETY: values `8i..8i + 8` of the 64 (caller).
        let v = unsafe { _mm256_loadu_ps(values.add(8 * i)) };
        // The bits without the sign bit, compared as integers (`Real::magnitude_bits`): −0 is
        // zero, NaN and subnormals are not, whatever the FPU's denormals-are-zero mode says.
        let magnitude = _mm256_slli_epi32::<1>(_mm256_castps_si256(v));
        let zeros = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(magnitude, zero)));
        mask |= u64::from(!(zeros as u8)) << (8 * i);
    }
    mask
}

/// Whether every value of `row` is ±0: an OR over the bits without the sign bit, with no early
/// exit, so that it vectorizes (most rows of a spike map are silent).
#[inline(always)]
pub(crate) fn is_zero<F: Real>(row: &[F]) -> bool {
    row.iter().fold(0, |acc, v| acc | v.magnitude_bits()) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::event::pack_bits;

    fn spikes(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                f32::from(u8::from(state >> 60 == 0))
            })
            .collect()
    }

    /// Every method of a bit source agrees with the same method on the float values, at every
    /// start and length (unaligned to bytes and words).
    #[test]
    fn bits_read_like_the_values() {
        let x = spikes(300, 7);
        let packed = pack_bits(&x);
        let (values, bits) = (Source::Values(&x), Source::<f32>::bits(&packed, x.len()));
        let other: Vec<f32> = (0..300).map(|i| i as f32 * 0.5 - 3.0).collect();
        for start in [0, 1, 7, 8, 9, 63, 64, 65, 130] {
            for len in [0, 1, 5, 8, 55, 56, 57, 64, 100, 300 - 130] {
                let mut a = vec![0.0; len];
                let mut b = vec![0.0; len];
                assert_eq!(values.row(start, &mut a), bits.row(start, &mut b));
                assert_eq!(values.is_zero(start, len), bits.is_zero(start, len));
                let (mut ea, mut eb) = (Vec::new(), Vec::new());
                values.for_each_nonzero(start, len, |i, v| ea.push((i, v)));
                bits.for_each_nonzero(start, len, |i, v| eb.push((i, v)));
                assert_eq!(ea, eb, "start {start}, len {len}");
                assert_eq!(
                    values.dot(start, &other[..len]),
                    bits.dot(start, &other[..len])
                );
            }
        }
        assert!(ea_nonempty(&x), "the test spikes must not be silent");
    }

    /// The mask of 64 `f32` (the AVX2 form where the CPU has it) agrees with the value-by-value
    /// definition, for ±0, NaN, infinities, subnormals and ordinary values at every position;
    /// so does the mask of a shorter run and of `f64`.
    #[test]
    fn nonzero_mask_is_the_nonzero_values() {
        let specials = [
            0.0,
            -0.0,
            1.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE / 4.0,
            -3.5,
        ];
        for shift in 0..specials.len() {
            let x: Vec<f32> = (0..64)
                .map(|i| specials[(i * 5 + shift + i / 8) % specials.len()])
                .collect();
            let want = x.iter().enumerate().fold(0u64, |m, (j, &v)| {
                m | u64::from(v != 0.0 || v.is_nan()) << j
            });
            assert_eq!(nonzero_mask(&x), want, "shift {shift}");
            assert_eq!(nonzero_mask(&x[..37]), want & ((1 << 37) - 1));
            let wide: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            assert_eq!(nonzero_mask(&wide), want);
            // With subnormals read as zero by the FPU (what `device::flush_denormals` sets for
            // training), the mask still counts them: it reads bits, not the FPU's comparisons,
            // so a value's mask does not depend on its position in the run or on `F`.
            #[cfg(target_arch = "x86_64")]
            #[allow(deprecated)]
            {
                use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
                // SAFETY: MXCSR is this test thread's own state, restored below.
                let saved = unsafe { _mm_getcsr() };
                unsafe { _mm_setcsr(saved | 0x8040) };
                let flushed = nonzero_mask(&x);
                unsafe { _mm_setcsr(saved) };
                assert_eq!(flushed, want, "shift {shift}, subnormals read as zero");
            }
        }
    }

    fn ea_nonempty(x: &[f32]) -> bool {
        x.iter().any(|&v| v != 0.0)
    }

    #[test]
    #[should_panic(expected = "Source::bits: 17 values need 3 bytes, got 2")]
    fn too_few_bits_panic() {
        Source::<f32>::bits(&[0, 0], 17);
    }
}
