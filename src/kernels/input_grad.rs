//! The input gradient of a stride-1 convolution on the CPU, `conv2dᵀ(δ, W)`, as one matrix
//! product per frame and no scatter.
//!
//! The output gradient `δ[co, y', x']` of a frame is copied into a zero-bordered buffer `G` of
//! `k − 1 − p` rows and columns on every side, row length `q = width + k − 1`. In that buffer
//! the input gradient at `(y, x)` needs, for tap `(ky, kx)`, the element `y·q + x + o(ky, kx)`
//! with `o = (k−1−ky)·q + (k−1−kx)`: every tap is the same run of `G` shifted by a constant.
//! So the `channels_out·k²` rows of the product are plain copies of runs of `G` (no index
//! arithmetic per element), and
//!
//! `dx[ci, y·q + x] = Σ_{co, ky, kx} W[co, ci, ky, kx] · G[co, y·q + x + o(ky, kx)]`
//!
//! is one GEMM (`gemm` crate) of `[channels_in, channels_out·k²]` by
//! `[channels_out·k², (height−1)·q + width]` per frame, from which the `width` valid columns of
//! every row are copied out (the `k − 1` others are the wrap-around between rows). Burn Flex's
//! transposed convolution instead multiplies first and then scatters every product into the
//! output one element at a time, which costs more than its GEMM (issue 12's profile).
//!
//! A `3×3` kernel on a map large enough for it to pay (the Table 2 networks' `34 × 34` layers,
//! [`super::winograd`]'s `pays`) takes Winograd's `F(2×2, 3×3)` instead: fewer multiplications
//! for the same result up to rounding. This direct form is its reference and serves every
//! other geometry.
//!
//! A `1×1` map with a `1×1` kernel (a dense synapse, [`Presynaptic::into_map`]) is one GEMM per
//! sample over all its time steps instead.
//!
//! The backend's dense transposed convolution is the reference (`tests/event_parity_*.rs`) and
//! what runs for strides above 1.
//!
//! [`Presynaptic::into_map`]: crate::synapse::Presynaptic::into_map

use super::cpu::{Output, Real};
use super::event::ConvGeometry;
use super::source::Source;
use super::winograd::{self, InputGrad3};
use core::mem::MaybeUninit;
use rayon::prelude::*;

/// Whether [`conv2d_input_grad`] computes the input gradient of convolutions of geometry `g`:
/// stride 1 and padding below the kernel size.
pub(crate) fn supports(g: &ConvGeometry) -> bool {
    g.stride == 1 && g.padding < g.kernel
}

/// `dx[f] = scale[f / frames_per_sample] · conv2dᵀ(grad[f], weight)`, the gradient of
/// `Σ grad · conv2d(x, weight)·scale` with respect to `x`, and, when `x` is given, the
/// gradient with respect to `scale`: `Σ_{f of sample b} Σ x[f] · conv2dᵀ(grad[f], weight)`.
///
/// - `grad`: `[frames, channels_out, height', width']`
/// - `weight`: `[channels_out, channels_in, k, k]`
/// - `scale`: one factor per sample (`frames / frames_per_sample` of them)
/// - `x`: `[frames, channels_in, height, width]`
/// - returns `[frames, channels_in, height, width]` and `[samples]`
///
/// # Panics
///
/// If `g` is not [supported](supports) or the lengths disagree with `g`.
pub(crate) fn conv2d_input_grad<F: Real>(
    grad: &[F],
    weight: &[F],
    scale: &[F],
    x: Option<Source<'_, F>>,
    frames_per_sample: usize,
    g: &ConvGeometry,
) -> (Vec<F>, Option<Vec<F>>) {
    assert!(supports(g), "conv2d_input_grad: unsupported geometry {g:?}");
    let (fin, fout) = (g.frame_in(), g.frame_out());
    assert_eq!(
        weight.len(),
        g.weight_len(),
        "conv2d_input_grad: weight length"
    );
    assert!(
        fout > 0 && grad.len().is_multiple_of(fout),
        "conv2d_input_grad: grad length"
    );
    let frames = grad.len() / fout;
    assert_eq!(
        scale.len() * frames_per_sample,
        frames,
        "conv2d_input_grad: scale"
    );
    if let Some(x) = x {
        assert_eq!(x.len(), frames * fin, "conv2d_input_grad: x length");
    }
    let mut out = Output::new(frames * fin);
    let mut dots = vec![0.0f64; frames];
    let dst = out.slots();
    let job = Job {
        grad,
        weight,
        scale,
        x,
        frames_per_sample,
        g,
    };
    if g.height * g.width == 1 && g.kernel == 1 {
        job.per_sample(dst, &mut dots);
    } else if winograd::pays(g) {
        job.per_frame(InputGrad3::new(weight, g), dst, &mut dots);
    } else {
        job.per_frame(Direct::new(weight, g), dst, &mut dots);
    }
    // SAFETY: both paths write every element of `dst`.
    let out = unsafe { out.assume_written() };
    let sums = x.map(|_| {
        dots.chunks(frames_per_sample.max(1))
            .map(|d| F::from_f64(d.iter().sum()))
            .collect()
    });
    (out, sums)
}

/// The input gradient of one frame, `out = conv2dᵀ(delta, W)`: `delta` `[co, height',
/// width']`, `out` `[ci, height, width]`, with buffers of one thread.
pub(crate) trait FrameGrad<F>: Sync {
    /// The buffers of one thread.
    type Scratch: Send;
    /// Buffers for [`frame`](Self::frame).
    fn scratch(&self) -> Self::Scratch;
    /// Writes every element of `out`.
    fn frame(&self, delta: &[F], scratch: &mut Self::Scratch, out: &mut [F]);
}

/// The direct form of the module doc: shifted runs of `G` and one GEMM per frame.
pub(crate) struct Direct<'a, F> {
    /// `[ci, co·k²]`: the weights of every input channel in the columns' order.
    lhs: Vec<F>,
    g: &'a ConvGeometry,
}

/// The buffers of one thread of [`Direct`].
pub(crate) struct DirectScratch<F> {
    /// `G`: the frame's output gradient with its zero border, `[co, height + k − 1, q]`.
    padded: Vec<F>,
    /// The shifted runs of `G`, `[co·k², len]`.
    columns: Vec<F>,
    /// The product, `[ci, len]`.
    product: Vec<F>,
}

impl<'a, F: Real> Direct<'a, F> {
    /// For `weight` `[co, ci, k, k]` and a [supported](supports) geometry.
    pub(crate) fn new(weight: &[F], g: &'a ConvGeometry) -> Self {
        let (ci, co, k) = (g.channels_in, g.channels_out, g.kernel);
        let depth = co * k * k;
        let mut lhs = vec![F::ZERO; ci * depth];
        for o in 0..co {
            for c in 0..ci {
                let taps = &weight[(o * ci + c) * k * k..][..k * k];
                lhs[c * depth + o * k * k..][..k * k].copy_from_slice(taps);
            }
        }
        Self { lhs, g }
    }

    /// `(row length q, rows of G, columns' length)`.
    fn dims(&self) -> (usize, usize, usize) {
        let (h, w, k) = (self.g.height, self.g.width, self.g.kernel);
        let q = w + k - 1;
        (q, h + k - 1, (h - 1) * q + w)
    }
}

impl<F: Real> FrameGrad<F> for Direct<'_, F> {
    type Scratch = DirectScratch<F>;

    fn scratch(&self) -> DirectScratch<F> {
        let (q, rows, len) = self.dims();
        let g = self.g;
        let depth = g.channels_out * g.kernel * g.kernel;
        DirectScratch {
            padded: vec![F::ZERO; g.channels_out * rows * q],
            columns: vec![F::ZERO; depth * len],
            product: vec![F::ZERO; g.channels_in * len],
        }
    }

    fn frame(&self, delta: &[F], s: &mut DirectScratch<F>, out: &mut [F]) {
        let g = self.g;
        let (ci, co, k, p) = (g.channels_in, g.channels_out, g.kernel, g.padding);
        let (h, w, ho, wo) = (g.height, g.width, g.height_out(), g.width_out());
        let (q, rows, len) = self.dims();
        let border = k - 1 - p;
        for o in 0..co {
            for y in 0..ho {
                let at = (o * rows + y + border) * q + border;
                s.padded[at..at + wo].copy_from_slice(&delta[(o * ho + y) * wo..][..wo]);
            }
        }
        for o in 0..co {
            for ky in 0..k {
                for kx in 0..k {
                    let shift = (k - 1 - ky) * q + (k - 1 - kx);
                    let row = (o * k + ky) * k + kx;
                    s.columns[row * len..][..len]
                        .copy_from_slice(&s.padded[o * rows * q + shift..][..len]);
                }
            }
        }
        matmul(&mut s.product, &self.lhs, &s.columns, ci, co * k * k, len);
        for c in 0..ci {
            for y in 0..h {
                out[(c * h + y) * w..][..w].copy_from_slice(&s.product[c * len + y * q..][..w]);
            }
        }
    }
}

/// [`Direct`]'s input gradient of one frame (the reference of [`super::winograd`]'s tests).
#[cfg(test)]
pub(crate) fn direct_frame<F: Real>(delta: &[F], weight: &[F], g: &ConvGeometry) -> Vec<F> {
    let direct = Direct::new(weight, g);
    let mut out = vec![F::ZERO; g.frame_in()];
    direct.frame(delta, &mut direct.scratch(), &mut out);
    out
}

/// The inputs of [`conv2d_input_grad`].
struct Job<'a, F> {
    grad: &'a [F],
    weight: &'a [F],
    scale: &'a [F],
    x: Option<Source<'a, F>>,
    frames_per_sample: usize,
    g: &'a ConvGeometry,
}

impl<F: Real> Job<'_, F> {
    /// Every frame: `dst[f]` and, with `x`, `dots[f] = Σ x[f]·conv2dᵀ(grad[f], W)`, each frame
    /// by `kernel`.
    fn per_frame<K: FrameGrad<F>>(&self, kernel: K, dst: &mut [MaybeUninit<F>], dots: &mut [f64]) {
        let Job {
            grad,
            scale,
            x,
            frames_per_sample,
            g,
            ..
        } = *self;
        let (fin, fout) = (g.frame_in(), g.frame_out());
        dst.par_chunks_mut(fin)
            .zip(dots.par_iter_mut())
            .enumerate()
            .for_each_init(
                || (kernel.scratch(), vec![F::ZERO; fin]),
                |(scratch, frame), (f, (out, frame_dot))| {
                    kernel.frame(&grad[f * fout..][..fout], scratch, frame);
                    let factor = scale[f / frames_per_sample];
                    for (d, &v) in out.iter_mut().zip(frame.iter()) {
                        d.write(factor * v);
                    }
                    *frame_dot = x.map_or(0.0, |x| x.dot(f * fin, frame));
                },
            );
    }

    /// The `1×1` case: `dx[b] = scale[b] · grad[b] · W` with `grad[b]` `[time, co]` and `W`
    /// `[co, ci]`, one GEMM per sample; `dots` as in [`per_frame`](Self::per_frame), the sample's
    /// sum on its first frame.
    fn per_sample(&self, dst: &mut [MaybeUninit<F>], dots: &mut [f64]) {
        let Job {
            grad,
            weight,
            scale,
            x,
            frames_per_sample,
            g,
        } = *self;
        let (ci, co, t) = (g.channels_in, g.channels_out, frames_per_sample);
        dst.par_chunks_mut(t * ci)
            .zip(dots.par_chunks_mut(t))
            .enumerate()
            .for_each(|(b, (out, dots))| {
                let delta = &grad[b * t * co..][..t * co];
                // SAFETY: `MaybeUninit<F>` has the layout of `F`; the product writes every element
                // before anything reads it (`read_dst` is false).
                let out: &mut [F] = unsafe { &mut *(out as *mut [MaybeUninit<F>] as *mut [F]) };
                matmul(out, delta, weight, t, co, ci);
                if let Some(x) = &x {
                    dots[0] = x.dot(b * t * ci, out);
                }
                for v in out.iter_mut() {
                    *v = scale[b] * *v;
                }
            });
    }
}

/// `out = lhs · rhs` for row-major `lhs` `[m, depth]`, `rhs` `[depth, n]`, `out` `[m, n]`.
pub(crate) fn matmul<F: Real>(
    out: &mut [F],
    lhs: &[F],
    rhs: &[F],
    m: usize,
    depth: usize,
    n: usize,
) {
    assert!(out.len() >= m * n && lhs.len() >= m * depth && rhs.len() >= depth * n);
    // SAFETY: the three slices hold row-major matrices of the asserted sizes; `read_dst` is
    // false, so `out` is written, not read.
    unsafe {
        gemm::gemm(
            m,
            n,
            depth,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            1,
            depth as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            F::ZERO,
            F::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::event::tests::pseudo_random;

    /// The adjoint of the convolution by its definition, in f64: every product
    /// `W[o, c, ky, kx]·r[f, o, y', x']` added to the input pixel it came from.
    fn scatter(r: &[f64], w: &[f64], frames: usize, g: &ConvGeometry) -> Vec<f64> {
        let (ho, wo, k) = (g.height_out(), g.width_out(), g.kernel);
        let (ci, co) = (g.channels_in, g.channels_out);
        let mut dx = vec![0.0; frames * g.frame_in()];
        for f in 0..frames {
            for o in 0..co {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let delta = r[((f * co + o) * ho + oy) * wo + ox];
                        for c in 0..ci {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (oy * g.stride + ky) as i64 - g.padding as i64;
                                    let ix = (ox * g.stride + kx) as i64 - g.padding as i64;
                                    if iy < 0
                                        || ix < 0
                                        || iy >= g.height as i64
                                        || ix >= g.width as i64
                                    {
                                        continue;
                                    }
                                    let at = ((f * ci + c) * g.height + iy as usize) * g.width
                                        + ix as usize;
                                    dx[at] += w[((o * ci + c) * k + ky) * k + kx] * delta;
                                }
                            }
                        }
                    }
                }
            }
        }
        dx
    }

    #[test]
    fn matches_the_adjoint_by_definition() {
        // (kernel, padding, height, width): even and odd kernels, every padding below the
        // kernel, odd maps, a map smaller than the kernel plus padding, a 1×1 map (dense).
        let cases = [
            (3, 1, 5, 7),
            (3, 0, 6, 5),
            (3, 2, 4, 4),
            (1, 0, 3, 3),
            (2, 1, 5, 5),
            (5, 2, 9, 8),
            (5, 4, 2, 3),
            (1, 0, 1, 1),
            // Large enough for Winograd's form (`winograd::pays`), odd height.
            (3, 1, 111, 120),
        ];
        for (kernel, padding, h, w) in cases {
            let g = ConvGeometry {
                channels_in: 3,
                channels_out: 4,
                height: h,
                width: w,
                kernel,
                stride: 1,
                padding,
            };
            assert!(supports(&g));
            assert_eq!(winograd::pays(&g), h == 111, "{g:?}");
            let (frames, per_sample) = (6, 3);
            let r = pseudo_random(frames * g.frame_out(), 4);
            let weight = pseudo_random(g.weight_len(), 5);
            let x: Vec<f64> = pseudo_random(frames * g.frame_in(), 6)
                .into_iter()
                .map(|v| if v > 0.2 { 1.0 } else { 0.0 })
                .collect();
            let scale = [0.5, 3.0];
            let (dx, sums) = conv2d_input_grad(
                &r,
                &weight,
                &scale,
                Some(Source::Values(&x)),
                per_sample,
                &g,
            );
            let want = scatter(&r, &weight, frames, &g);
            let fin = g.frame_in();
            for (i, (a, b)) in dx.iter().zip(&want).enumerate() {
                let s = scale[i / fin / per_sample];
                assert!(
                    (a - s * b).abs() < 1e-12,
                    "k {kernel} p {padding} {h}x{w}: {i}: {a} vs {}",
                    s * b
                );
            }
            let sums = sums.expect("x was given");
            for (b, sum) in sums.iter().enumerate() {
                let span = b * per_sample * fin..(b + 1) * per_sample * fin;
                let want: f64 = x[span.clone()]
                    .iter()
                    .zip(&want[span])
                    .map(|(x, d)| x * d)
                    .sum();
                assert!(
                    (sum - want).abs() < 1e-12 * want.abs().max(1.0),
                    "sample {b}: {sum} vs {want}"
                );
            }
            let (again, none) = conv2d_input_grad(&r, &weight, &scale, None, per_sample, &g);
            assert_eq!(again, dx);
            assert!(none.is_none());
        }
    }

    #[test]
    fn single_precision_matches() {
        let g = ConvGeometry {
            channels_in: 16,
            channels_out: 8,
            height: 11,
            width: 9,
            kernel: 3,
            stride: 1,
            padding: 1,
        };
        let r = pseudo_random(2 * g.frame_out(), 7);
        let weight = pseudo_random(g.weight_len(), 8);
        let want = scatter(&r, &weight, 2, &g);
        let single = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let (dx, _) = conv2d_input_grad(&single(&r), &single(&weight), &[1.0], None, 2, &g);
        for (a, b) in dx.iter().zip(&want) {
            assert!((f64::from(*a) - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn strides_above_one_are_not_supported() {
        let g = ConvGeometry {
            channels_in: 1,
            channels_out: 1,
            height: 4,
            width: 4,
            kernel: 3,
            stride: 2,
            padding: 1,
        };
        assert!(!supports(&g));
        assert!(!supports(&ConvGeometry {
            stride: 1,
            padding: 3,
            ..g
        }));
    }
}
