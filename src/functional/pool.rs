use burn::tensor::Tensor;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;

/// Spatial average pooling of a PSP, applied to every time step (`size × size` windows,
/// stride `size`, no padding; a trailing row or column that does not fill a window is
/// dropped).
///
/// Pooling sits inside a [`Func`](crate::neuron::Func) layer, between the PSP and its
/// normalization: averaging is linear, so it commutes with the PSP filter, and it adds no
/// weights and no neurons of its own.
///
/// # Shapes
///
/// - `a`: `[batch, time, channels, height, width]`
/// - output: `[batch, time, channels, height / size, width / size]`
pub fn pool_psp(a: Tensor<5>, size: usize) -> Tensor<5> {
    let [b, t, c, h, w] = a.dims();
    assert!(
        size > 0 && size <= h && size <= w,
        "pool_psp: window {size} does not fit in a {h}×{w} map"
    );
    let pooled = avg_pool2d(
        a.reshape([b * t, c, h, w]),
        AvgPoolOptions::new([size, size]),
    );
    let [_, _, h2, w2] = pooled.dims();
    pooled.reshape([b, t, c, h2, w2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn averages_windows_per_step() {
        let device = device();
        let a: Vec<f64> = (0..2 * 16).map(|i| i as f64).collect();
        let out = to_f64(pool_psp(tensor_f64(a, [1, 2, 1, 4, 4], &device), 2));
        assert_eq!(out, vec![2.5, 4.5, 10.5, 12.5, 18.5, 20.5, 26.5, 28.5]);
    }
}
