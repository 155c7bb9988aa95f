use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Which set `X` the PSP second moment `E_X[a²]` is taken over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PspNormKind {
    /// PSP batch normalization (PSP-BN, eq. 19): one statistic per channel (dim 2) over the
    /// batch, time and spatial dims.
    Batch,
    /// PSP layer normalization (PSP-LN, eq. 20): one statistic per sample (dim 0) over time,
    /// channels and spatial dims.
    Layer,
}

/// PSP normalization (eq. 19–20): `â = a / sqrt(E_X[a²] + λ)`.
///
/// The statistic is the *second raw moment* of the PSP over the set `X` of `kind`; there is no
/// mean subtraction and no affine transform, so silent inputs stay zero and the sign of the
/// PSP is kept. Gradients flow through the statistic.
///
/// - [`PspNormKind::Batch`] (PSP-BN, eq. 19): one statistic per channel (dim 2) over the
///   batch, time and spatial dims.
/// - [`PspNormKind::Layer`] (PSP-LN, eq. 20): one statistic per sample (dim 0) over time,
///   channels and spatial dims.
///
/// # Shapes
///
/// - `a`: `[batch, time, channels, ...]` (rank ≥ 3 for `Batch`, ≥ 2 for `Layer`)
/// - output: same as `a`
///
/// # Panics
///
/// If the rank is too small, a dim is empty, or `lambda` is not finite and positive.
#[track_caller]
pub fn psp_norm<const D: usize>(a: Tensor<D>, kind: PspNormKind, lambda: f64) -> Tensor<D> {
    check_psp_norm("psp_norm", &a.dims(), kind, lambda);
    let moment = psp_second_moment(a.clone(), kind);
    psp_norm_with_moment(a, moment, lambda)
}

/// `E_X[a²]` of [`psp_norm`], shaped to broadcast against `a`: `[1, 1, channels, 1, ...]` for
/// `Batch`, `[batch, 1, 1, ...]` for `Layer`.
///
/// # Shapes
///
/// - `a`: `[batch, time, channels, ...]`
/// - output: `[1, 1, channels, 1, ...]` (`Batch`) or `[batch, 1, ...]` (`Layer`), rank of `a`
pub fn psp_second_moment<const D: usize>(a: Tensor<D>, kind: PspNormKind) -> Tensor<D> {
    let dims = a.dims();
    let squared = a.clone() * a;
    let mut out_shape = [1usize; D];
    match kind {
        PspNormKind::Batch => {
            let channels = dims[2];
            let spatial: usize = dims[3..].iter().product();
            out_shape[2] = channels;
            squared
                .reshape([dims[0] * dims[1], channels, spatial])
                .mean_dim(2)
                .mean_dim(0)
                .reshape(out_shape)
        }
        PspNormKind::Layer => {
            let rest: usize = dims[1..].iter().product();
            out_shape[0] = dims[0];
            squared
                .reshape([dims[0], rest])
                .mean_dim(1)
                .reshape(out_shape)
        }
    }
}

/// `a / sqrt(moment + λ)` with a given second moment (e.g. a running average at inference).
///
/// # Shapes
///
/// - `a`: `[batch, time, channels, ...]`
/// - `moment`: broadcastable to `a` (see [`psp_second_moment`])
/// - output: same as `a`
pub fn psp_norm_with_moment<const D: usize>(
    a: Tensor<D>,
    moment: Tensor<D>,
    lambda: f64,
) -> Tensor<D> {
    a / moment.add_scalar(lambda).sqrt()
}

#[track_caller]
pub(crate) fn check_psp_norm(op: &str, dims: &[usize], kind: PspNormKind, lambda: f64) {
    let min_rank = match kind {
        PspNormKind::Batch => 3,
        PspNormKind::Layer => 2,
    };
    assert!(
        dims.len() >= min_rank,
        "{op}: {kind:?} normalization expects a tensor of shape {} (rank >= {min_rank}), got rank {} with shape {dims:?}",
        match kind {
            PspNormKind::Batch => "[batch, time, channels, ...]",
            PspNormKind::Layer => "[batch, time, ...]",
        },
        dims.len()
    );
    assert!(
        dims.iter().all(|&d| d > 0),
        "{op}: every dim must be non-empty, got shape {dims:?}"
    );
    assert!(
        lambda.is_finite() && lambda > 0.0,
        "{op}: lambda must be finite and > 0, got {lambda}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// f64 reference on `[B, T, C, S]`.
    fn reference(a: &[f64], [b, t, c, s]: [usize; 4], kind: PspNormKind, lambda: f64) -> Vec<f64> {
        let at = |bi: usize, ti: usize, ci: usize, si: usize| ((bi * t + ti) * c + ci) * s + si;
        let mut out = vec![0.0; a.len()];
        for bi in 0..b {
            for ti in 0..t {
                for ci in 0..c {
                    for si in 0..s {
                        let (count, sum) = match kind {
                            PspNormKind::Batch => {
                                let mut sum = 0.0;
                                for bj in 0..b {
                                    for tj in 0..t {
                                        for sj in 0..s {
                                            sum += a[at(bj, tj, ci, sj)].powi(2);
                                        }
                                    }
                                }
                                (b * t * s, sum)
                            }
                            PspNormKind::Layer => {
                                let sum: f64 = a[at(bi, 0, 0, 0)..at(bi + 1, 0, 0, 0)]
                                    .iter()
                                    .map(|x| x * x)
                                    .sum();
                                (t * c * s, sum)
                            }
                        };
                        let i = at(bi, ti, ci, si);
                        out[i] = a[i] / (sum / count as f64 + lambda).sqrt();
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_reference_for_both_kinds_3d_4d_5d() {
        let device = device();
        for kind in [PspNormKind::Batch, PspNormKind::Layer] {
            let shape = [3, 4, 5, 2, 3];
            let a: Vec<f64> = random_values(360, 1)
                .iter()
                .map(|x| 2.0 * x + 0.5)
                .collect();
            let got = to_f64(psp_norm(tensor_f64(a.clone(), shape, &device), kind, 0.1));
            assert_close(&got, &reference(&a, [3, 4, 5, 6], kind, 0.1), 1e-12, "5-D");
            let got = to_f64(psp_norm(
                tensor_f64(a.clone(), [3, 4, 30], &device),
                kind,
                0.1,
            ));
            assert_close(&got, &reference(&a, [3, 4, 30, 1], kind, 0.1), 1e-12, "3-D");
        }
        // Layer also takes rank 2: one statistic per sample over time.
        let a = random_values(12, 2);
        let got = to_f64(psp_norm(
            tensor_f64(a.clone(), [2, 6], &device),
            PspNormKind::Layer,
            0.5,
        ));
        assert_close(
            &got,
            &reference(&a, [2, 6, 1, 1], PspNormKind::Layer, 0.5),
            1e-12,
            "2-D",
        );
    }

    #[test]
    fn zero_input_stays_zero() {
        let device = device();
        let out = psp_norm(
            Tensor::<4>::zeros([2, 3, 4, 5], &device),
            PspNormKind::Batch,
            0.1,
        );
        assert!(to_f64(out).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn gradient_through_the_statistic_matches_finite_differences() {
        let device = device().autodiff();
        for kind in [PspNormKind::Batch, PspNormKind::Layer] {
            let shape = [2, 3, 2, 4];
            let a = random_values(48, 3);
            let w = random_values(48, 4);
            let loss = |a: &[f64]| -> f64 {
                reference(a, shape, kind, 0.1)
                    .iter()
                    .zip(&w)
                    .map(|(x, w)| x * w)
                    .sum()
            };
            let at = tensor_f64(a.clone(), shape, &device).require_grad();
            let out = psp_norm(at.clone(), kind, 0.1) * tensor_f64(w.clone(), shape, &device);
            let grad = to_f64(at.grad(&out.sum().backward()).expect("gradient"));
            assert_close(
                &grad,
                &finite_differences(&a, loss),
                1e-7,
                &format!("{kind:?}"),
            );
        }
    }

    #[test]
    #[should_panic(
        expected = "psp_norm: Batch normalization expects a tensor of shape [batch, time, channels, ...] (rank >= 3), got rank 2 with shape [2, 3]"
    )]
    fn batch_needs_channels() {
        psp_norm(
            Tensor::<2>::zeros([2, 3], &device()),
            PspNormKind::Batch,
            0.1,
        );
    }

    #[test]
    #[should_panic(expected = "psp_norm: lambda must be finite and > 0, got -0.1")]
    fn bad_lambda_panics() {
        psp_norm(
            Tensor::<3>::zeros([2, 3, 1], &device()),
            PspNormKind::Layer,
            -0.1,
        );
    }

    #[test]
    #[should_panic(expected = "psp_norm: every dim must be non-empty, got shape [2, 0, 1]")]
    fn empty_dim_panics() {
        psp_norm(
            Tensor::<3>::zeros([2, 0, 1], &device()),
            PspNormKind::Layer,
            0.1,
        );
    }
}
