//! What the GPU kernels can address: they index with 32-bit integers (WGSL has no 64-bit
//! ones). A plain function, outside the `cube` module, so that its tests run in every build.

/// The largest element count the kernels address: they index with 32-bit integers (WGSL has
/// no 64-bit ones), so every element offset, and the column count, must fit in a `u32`.
const MAX_ELEMENTS: u64 = u32::MAX as u64;

/// The largest launch grid: every thread's position (`0..threads`) must fit in a `u32`.
const MAX_THREADS: u64 = 1 << 32;

/// Checks that a `[batch, time, neurons...]` tensor of this shape can be indexed by the
/// kernels, whose launch grid runs `threads` threads.
///
/// # Panics
///
/// If an element offset or a thread position would not fit in 32 bits, naming the shape.
#[cfg_attr(not(any(feature = "wgpu", feature = "cuda")), allow(dead_code))]
pub(crate) fn check_addressable(shape: &[usize], threads: u64) {
    let elements = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    assert!(
        elements <= MAX_ELEMENTS && threads <= MAX_THREADS,
        "burn-snn's GPU kernels index with 32-bit offsets: a tensor of shape {shape:?} has \
         {elements} elements (launch grid: {threads} threads), at most {MAX_ELEMENTS} \
         elements and {MAX_THREADS} threads are supported; split the batch"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_within_32_bit_offsets_are_accepted() {
        check_addressable(&[1, 2, 17_000_000], 17_000_192);
        check_addressable(&[1, 1, u32::MAX as usize], 1 << 32);
        check_addressable(&[0, 300, 8], 256);
    }

    #[test]
    #[should_panic = "a tensor of shape [2, 3, 715827883] has 4294967298 elements"]
    fn more_than_2_pow_32_elements_are_refused_naming_the_shape() {
        check_addressable(&[2, 3, 715_827_883], 1 << 30);
    }

    /// 2³² columns at T = 1: the column count itself would wrap to 0 in a `u32`.
    #[test]
    #[should_panic = "a tensor of shape [1, 1, 4294967296] has 4294967296 elements"]
    fn exactly_2_pow_32_elements_are_refused() {
        check_addressable(&[1, 1, 1 << 32], 1 << 32);
    }

    #[test]
    #[should_panic = "(launch grid: 4294967552 threads)"]
    fn a_grid_past_32_bit_positions_is_refused() {
        check_addressable(&[1, 1, 1 << 31], (1 << 32) + 256);
    }

    #[test]
    fn an_overflowing_shape_product_is_refused_not_wrapped() {
        let caught = std::panic::catch_unwind(|| check_addressable(&[1 << 40, 1 << 40], 256));
        assert!(caught.is_err());
    }
}
