use crate::kernels::SnnBackend;
use burn::backend::Dispatch;
use burn::tensor::Tensor;

/// The postsynaptic potential (PSP) of spike trains: each spike convolved with the alpha
/// kernel, along time (dim 1).
///
/// `a[t] = Σ_{k=0..=t} ε(k)·s[t−k]` with `ε(k) = (k/τs)·e^{1−k/τs}`, the SRM's PSP kernel
/// sampled at integer steps. `ε(0) = 0`, so a spike moves the PSP from the next step on; a
/// single spike's PSP peaks at 1 after `τs` steps.
///
/// Computed exactly in `O(T)` per neuron: the sampled kernel is the impulse response of a
/// second-order linear recursion (two cascaded one-pole filters with pole `e^{−1/τs}`). The
/// backward pass is the exact adjoint, the same recursion run from the last step to the first
/// on the output gradient; no forward value is kept for it.
///
/// # Shapes
///
/// - `spikes`: `[batch, time, ...]` (any number of neuron dims, including none)
/// - output: same as `spikes`
///
/// # Example
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use burn_snn::functional::psp;
///
/// // One spike at t = 0: the PSP is ε(t), 0 at t = 0 and peaking at 1 when t = τs.
/// let mut train = [0.0f32; 12];
/// train[0] = 1.0;
/// let s = Tensor::<2>::from_floats([train], &Device::default());
/// let a: Vec<f32> = psp(s, 5.0).into_data().try_into_vec().unwrap();
/// assert_eq!(a[0], 0.0);
/// assert!((a[5] - 1.0).abs() < 1e-6);
/// assert!(a[4] < a[5] && a[6] < a[5]);
/// ```
///
/// # Panics
///
/// If the tensor has no time dim (rank < 2) or an empty one, or if `tau_s` is not finite and
/// positive.
#[track_caller]
pub fn psp<const D: usize>(spikes: Tensor<D>, tau_s: f64) -> Tensor<D> {
    super::check_time_layout("psp", &spikes.dims());
    super::check_tau_s("psp", tau_s);
    Tensor::from_dispatch(<Dispatch as SnnBackend>::psp_filter(
        spikes.into_dispatch(),
        tau_s,
        false,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// ε(k) of the paper, in f64.
    fn epsilon(k: usize, tau: f64) -> f64 {
        let k = k as f64;
        k / tau * (1.0 - k / tau).exp()
    }

    /// Direct O(T²) convolution along dim 1 of a `[B, T, N]` buffer.
    fn direct_psp(x: &[f64], [b, t, n]: [usize; 3], tau: f64) -> Vec<f64> {
        let mut y = vec![0.0; x.len()];
        for bi in 0..b {
            for ti in 0..t {
                for ni in 0..n {
                    y[(bi * t + ti) * n + ni] = (0..=ti)
                        .map(|k| epsilon(k, tau) * x[(bi * t + ti - k) * n + ni])
                        .sum();
                }
            }
        }
        y
    }

    #[test]
    fn impulse_response_is_the_alpha_kernel() {
        let device = device();
        let mut x = vec![0.0; 40];
        x[0] = 1.0;
        let y = to_f64(psp(tensor_f64(x, [1, 40], &device), 7.0));
        for (k, &y) in y.iter().enumerate() {
            assert!((y - epsilon(k, 7.0)).abs() < 1e-12, "k = {k}: {y}");
        }
        assert_eq!(y[0], 0.0);
        // Peak of 1 at k = τs.
        assert!((y[7] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn matches_direct_convolution_f32_and_f64() {
        let device = device();
        for (shape, tau) in [
            ([2, 50, 3], 10.0),
            ([3, 1, 5], 10.0),
            ([1, 300, 2], 1.0),
            ([2, 64, 1], 37.5),
        ] {
            let x = random_spikes(shape.iter().product(), 0.2, 7);
            let want = direct_psp(&x, shape, tau);
            let got64 = to_f64(psp(tensor_f64(x.clone(), shape, &device), tau));
            assert_close(&got64, &want, 1e-12, "f64");
            let got32 = to_f64(psp(tensor_f32(&x, shape, &device), tau));
            assert_close(&got32, &want, 2e-5, "f32");
        }
    }

    /// An f64 tensor runs with its f64 parameters: τs = 0.1 (not representable in binary) and
    /// τs = 1/3 match the O(T²) reference at 1e-12, which an f32-rounded τs (relative error
    /// ~1e-8, amplified by e^{−k/τs} for τs = 0.1) would miss.
    #[test]
    fn f64_parameters_are_not_rounded() {
        let device = device();
        for tau in [0.1, 1.0 / 3.0, 2.7] {
            let shape = [2, 40, 3];
            let x = random_spikes(shape.iter().product(), 0.3, 13);
            let want = direct_psp(&x, shape, tau);
            let got = to_f64(psp(tensor_f64(x.clone(), shape, &device), tau));
            assert_close(&got, &want, 1e-12, &format!("tau_s = {tau}"));
        }
    }

    #[test]
    fn works_on_5d_and_2d_tensors_and_zeros() {
        let device = device();
        let shape5 = [2, 9, 3, 4, 5];
        let n: usize = shape5.iter().product();
        let x = random_spikes(n, 0.3, 3);
        let got = to_f64(psp(tensor_f64(x.clone(), shape5, &device), 4.0));
        let want = direct_psp(&x, [2, 9, 60], 4.0);
        assert_close(&got, &want, 1e-12, "5-D");

        let x2 = random_spikes(2 * 30, 0.3, 4);
        let got = to_f64(psp(tensor_f64(x2.clone(), [2, 30], &device), 4.0));
        assert_close(&got, &direct_psp(&x2, [2, 30, 1], 4.0), 1e-12, "2-D");

        let zeros = psp(Tensor::<3>::zeros([2, 5, 3], &device), 10.0);
        assert!(to_f64(zeros).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn gradient_is_the_adjoint_checked_by_finite_differences() {
        let device = device().autodiff();
        let shape = [2, 25, 3];
        let n: usize = shape.iter().product();
        let x = random_values(n, 11);
        let weights = random_values(n, 12);
        let loss = |x: &[f64]| -> f64 {
            let y = direct_psp(x, shape, 5.0);
            y.iter().zip(&weights).map(|(y, w)| y * w).sum()
        };
        let xt = tensor_f64(x.clone(), shape, &device).require_grad();
        let wt = tensor_f64(weights.clone(), shape, &device);
        let grads = (psp(xt.clone(), 5.0) * wt).sum().backward();
        let grad = to_f64(xt.grad(&grads).expect("gradient"));
        let numeric = finite_differences(&x, loss);
        assert_close(&grad, &numeric, 1e-7, "gradient");
    }

    #[test]
    #[should_panic(
        expected = "psp: expected a tensor of shape [batch, time, ...] (rank >= 2), got rank 1 with shape [5]"
    )]
    fn missing_time_dim_panics() {
        psp(Tensor::<1>::zeros([5], &device()), 10.0);
    }

    #[test]
    #[should_panic(expected = "psp: the time dim (dim 1) is empty in shape [2, 0, 3]")]
    fn empty_time_dim_panics() {
        psp(Tensor::<3>::zeros([2, 0, 3], &device()), 10.0);
    }

    #[test]
    #[should_panic(expected = "psp: tau_s must be finite and > 0, got 0")]
    fn bad_tau_panics() {
        psp(Tensor::<3>::zeros([2, 4, 3], &device()), 0.0);
    }
}
