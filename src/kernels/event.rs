//! Event-driven convolution on the CPU: the work follows the nonzero inputs (spikes), not the
//! neurons.
//!
//! A frame is one `[channels, height, width]` map of a `[batch, time, ...]` tensor. For every
//! nonzero input `x[c, y, x]` of a frame, every kernel tap `(ky, kx)` that lands on an output
//! pixel adds `x·W[:, c, ky, kx]` (a contiguous row of `channels_out` weights, the weights being
//! stored `[channels_in, k, k, channels_out]`) to that pixel's channel vector, kept
//! channels-last in a per-thread buffer and transposed into the `[channels_out, h', w']` output
//! at the end of the frame. The weight gradient walks the same events and adds `x·g[:, y', x']`
//! to the weight row. Both cost `nonzeros × k² × channels_out` multiply-adds instead of
//! `neurons × channels_in × k² × channels_out`. Frames run in parallel on rayon's pool.
//!
//! The dense convolution of the backend is the reference these loops are tested against
//! (`tests/event_parity_*.rs`) and what the backends run above a density threshold
//! ([`EventConvOptions::dense_above`](super::EventConvOptions::dense_above)). The loops read
//! their input through [`Source`]: float values, or the spikes as bits (what the backward pass
//! keeps).

use super::cpu::{AlphaPsp, Firing, Output, Real, Surrogate, simd};
use super::source::{Source, nonzero_mask};
use super::{SpikeParams, WeightLayout};
use core::mem::MaybeUninit;
use rayon::prelude::*;
use std::borrow::Cow;

/// The geometry of a square-kernel convolution with symmetric zero padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Kernel size (square).
    pub kernel: usize,
    /// Stride (both dims).
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
}

impl ConvGeometry {
    /// Output height.
    pub fn height_out(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Output width.
    pub fn width_out(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel) / self.stride + 1
    }

    pub(crate) fn frame_in(&self) -> usize {
        self.channels_in * self.height * self.width
    }

    pub(crate) fn frame_out(&self) -> usize {
        self.channels_out * self.height_out() * self.width_out()
    }

    pub(crate) fn weight_len(&self) -> usize {
        self.channels_out * self.channels_in * self.kernel * self.kernel
    }

    /// The output coordinate a kernel tap `k` sends input coordinate `i` to, if any.
    #[inline(always)]
    fn target(&self, i: usize, k: usize, len_out: usize) -> Option<usize> {
        let shifted = (i + self.padding).checked_sub(k)?;
        if shifted % self.stride != 0 {
            return None;
        }
        let o = shifted / self.stride;
        (o < len_out).then_some(o)
    }
}

/// Fraction of nonzero elements of `x` (0 for an empty slice).
pub fn density<F: Real>(x: &[F]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let nonzero: usize = x
        .par_chunks(1 << 16)
        .map(|chunk| chunk.iter().filter(|&&v| v != F::ZERO).count())
        .sum();
    nonzero as f64 / x.len() as f64
}

/// Blocks of [`estimate_density`].
const DENSITY_BLOCK: usize = 1 << 12;

/// The fraction of nonzero elements of `x` from every 8th block of 4096 elements (exact up to
/// 64K elements): what decides between the event loops and the dense convolution, at an eighth
/// of a full pass. Spike tensors are `[batch, time, ...]` with the blocks spread over all
/// samples and steps, and the decision only needs to tell a few percent from tens of percent.
pub fn estimate_density<F: Real>(x: &[F]) -> f64 {
    if x.len() <= 16 * DENSITY_BLOCK {
        return density(x);
    }
    let (nonzero, len) = x
        .par_chunks(DENSITY_BLOCK)
        .step_by(8)
        .map(|chunk| (chunk.iter().filter(|&&v| v != F::ZERO).count(), chunk.len()))
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    nonzero as f64 / len as f64
}

/// The density of a [`Source`]: [`estimate_density`] of values, the exact count of set bits of
/// spikes (a popcount per byte: cheaper than sampling the floats).
pub(crate) fn source_density<F: Real>(x: Source<'_, F>) -> f64 {
    match x {
        Source::Values(v) => estimate_density(v),
        Source::Bits { bits, len } => {
            if len == 0 {
                return 0.0;
            }
            let ones: u64 = bits
                .par_chunks(1 << 14)
                .map(|c| c.iter().map(|b| u64::from(b.count_ones())).sum::<u64>())
                .sum();
            ones as f64 / len as f64
        }
    }
}

/// The row of a tap in the weights' event layout `[ci, k, k, co]` with `kx` reversed: for a
/// stride of 1, the taps `kx = k−1, …, 0` of one input reach the output pixels `x + p − k + 1,
/// …, x + p` in order, so a run of neighbouring taps is one contiguous stretch of rows against
/// one contiguous stretch of channels-last pixels.
#[inline(always)]
fn tap_row(tap: usize, k: usize) -> usize {
    let kx = tap % k;
    tap - kx + (k - 1 - kx)
}

/// `x` (only 0 and 1) as bits: `x[8j + i] ≠ 0` is bit `i` of byte `j`.
pub fn pack_bits<F: Real>(x: &[F]) -> Vec<u8> {
    let mut bits = vec![0u8; x.len().div_ceil(8)];
    bits.par_chunks_mut(1 << 12)
        .zip(x.par_chunks(8 << 12))
        .for_each(|(bytes, values)| {
            debug_assert!(
                values.iter().all(|&v| v == F::ZERO || v == F::ONE),
                "pack_bits: spikes must be 0 or 1"
            );
            for (eight, values) in bytes.chunks_mut(8).zip(values.chunks(64)) {
                let mask = nonzero_mask(values).to_le_bytes();
                eight.copy_from_slice(&mask[..eight.len()]);
            }
        });
    bits
}

/// The first `len` values of [`pack_bits`]'s input, from its bits.
pub fn unpack_bits<F: Real>(bits: &[u8], len: usize) -> Vec<F> {
    assert!(
        bits.len() * 8 >= len,
        "unpack_bits: {len} values need {} bytes",
        len.div_ceil(8)
    );
    let mut x = Output::new(len);
    x.slots()
        .par_chunks_mut(8 << 12)
        .zip(bits.par_chunks(1 << 12))
        .for_each(|(values, bytes)| {
            for (eight, &byte) in values.chunks_mut(8).zip(bytes) {
                for (i, v) in eight.iter_mut().enumerate() {
                    v.write(if byte >> i & 1 == 1 { F::ONE } else { F::ZERO });
                }
            }
        });
    // SAFETY: the chunks of 8 values cover all `len` values (one byte each, asserted above),
    // and every value is written.
    unsafe { x.assume_written() }
}

/// Frames per partial sum of the weight gradient (fixed, so that the summation order is).
const FRAMES_PER_PARTIAL: usize = 32;

/// The checks shared by the event forwards ([`conv2d`], [`conv2d_spike`], named `op` in their
/// messages): the weight's length, whole frames, one scale per sample. Returns the number of
/// frames and the weight in event layout (a `1×1` kernel stored `[ci, co]` already is).
fn event_rows<'w, F: Real>(
    op: &str,
    x: &Source<'_, F>,
    weight: &'w [F],
    layout: WeightLayout,
    scale: &[F],
    frames_per_sample: usize,
    g: &ConvGeometry,
) -> (usize, Cow<'w, [F]>) {
    let fin = g.frame_in();
    assert_eq!(weight.len(), g.weight_len(), "event {op}: weight length");
    assert_eq!(x.len() % fin, 0, "event {op}: input length");
    let frames = x.len() / fin;
    assert_eq!(scale.len() * frames_per_sample, frames, "event {op}: scale");
    let rows = match layout {
        WeightLayout::OutIn => Cow::Owned(weight_rows(weight, g)),
        WeightLayout::InOut => Cow::Borrowed(weight),
    };
    (frames, rows)
}

/// `[co, ci, k, k]` → rows `[ci, k, k (kx reversed), co]`.
fn weight_rows<F: Real>(weight: &[F], g: &ConvGeometry) -> Vec<F> {
    let (co, k) = (g.channels_out, g.kernel);
    let taps = g.channels_in * k * k;
    let mut rows = vec![F::ZERO; weight.len()];
    // Row by row of the output (contiguous writes); each row reads one column of the weights.
    for (tap, row) in (0..taps).map(|tap| (tap, tap_row(tap, k))) {
        let dst = &mut rows[row * co..][..co];
        for (o, d) in dst.iter_mut().enumerate() {
            *d = weight[o * taps + tap];
        }
    }
    rows
}

/// Calls `f(row, pixel, run, value)` for every nonzero input `value` of the frame at `offset`
/// of `x`: the `run` weight rows from `row` on (event layout, see [`tap_row`]) meet the `run`
/// channels-last output pixels from `pixel` on. With stride 1 a run covers all valid `kx` of
/// one `ky`; otherwise every tap is its own run.
///
/// The events come in the order of the frame (channel, row, column), one scan over the whole
/// frame ([`Source::for_each_nonzero`]: a 56-bit word of bits, or a mask of 64 values, at a
/// time), each event's position decoded by two multiplications ([`FastDiv`]). Every output
/// element receives its events' terms in that order, whatever the loops' nesting, so the sums
/// (and the spikes of [`conv2d_spike`]) do not depend on it.
#[inline(always)]
fn for_each_event<F: Real>(
    x: &Source<'_, F>,
    offset: usize,
    g: &ConvGeometry,
    mut f: impl FnMut(usize, usize, usize, F),
) {
    let (h, w, k, pad) = (g.height, g.width, g.kernel, g.padding);
    let (ho, wo) = (g.height_out(), g.width_out());
    let fin = g.frame_in();
    let plane = FastDiv::new(h * w, fin);
    let line = FastDiv::new(w, h * w);
    x.for_each_nonzero(
        offset,
        fin,
        #[inline(always)]
        |p, value| {
            let c = plane.div(p);
            let in_plane = p - c * h * w;
            let y = line.div(in_plane);
            let x = in_plane - y * w;
            if g.stride == 1 {
                // Reversed tap j = k−1−kx reaches ox = x + pad − (k − 1) + j.
                let base = (x + pad) as isize - (k as isize - 1);
                let j_lo = (-base).max(0) as usize;
                let j_hi = (wo as isize - 1 - base).min(k as isize - 1);
                if j_hi < j_lo as isize {
                    return;
                }
                let run = j_hi as usize + 1 - j_lo;
                let ox = (base + j_lo as isize) as usize;
                // Tap ky reaches oy = y + pad − ky, for the ky that land inside.
                let ky_lo = (y + pad + 1).saturating_sub(ho);
                let ky_hi = (y + pad).min(k - 1);
                for ky in ky_lo..=ky_hi {
                    let oy = y + pad - ky;
                    f((c * k + ky) * k + j_lo, oy * wo + ox, run, value);
                }
            } else {
                for ky in 0..k {
                    let Some(oy) = g.target(y, ky, ho) else {
                        continue;
                    };
                    let first_row = (c * k + ky) * k;
                    for kx in 0..k {
                        if let Some(ox) = g.target(x, kx, wo) {
                            f(first_row + (k - 1 - kx), oy * wo + ox, 1, value);
                        }
                    }
                }
            }
        },
    );
}

/// Division by a fixed `d` as a multiplication and a shift (`⌈2³²/d⌉`, exact for every
/// `n ≤ max` when `max·d < 2³²`; a plain division otherwise): what decodes an event's channel
/// and row from its position in the frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastDiv {
    d: u64,
    /// `⌈2³²/d⌉`, or 0 where the multiplication would not be exact.
    m: u64,
}

impl FastDiv {
    /// Division by `d > 0` of numbers up to `max`.
    pub(crate) fn new(d: usize, max: usize) -> Self {
        assert!(d > 0, "FastDiv: division by zero");
        let (d, max) = (d as u64, max as u64);
        // n = q·d + r, m = (2³² + e)/d with 0 ≤ e < d: n·m/2³² = n/d + n·e/(d·2³²), which
        // stays below q + 1 while n·e < 2³², true for n·d < 2³².
        let m = match max.checked_mul(d) {
            Some(product) if product < 1 << 32 => (1u64 << 32).div_ceil(d),
            _ => 0,
        };
        Self { d, m }
    }

    #[inline(always)]
    pub(crate) fn div(self, n: usize) -> usize {
        if self.m != 0 {
            ((n as u64 * self.m) >> 32) as usize
        } else {
            (n as u64 / self.d) as usize
        }
    }
}

/// One frame of [`conv2d_weight_grad`]: the frame's output gradient `grad` (`[co, pixels]`)
/// channels-last into `grad_t`, then every event adds `scale·value·grad_t[pixels]` to its rows.
#[inline(never)]
fn weight_grad_frame<F: Real>(
    x: &Source<'_, F>,
    offset: usize,
    grad: &[F],
    g: &ConvGeometry,
    grad_t: &mut [F],
    rows: &mut [F],
    scale: F,
) {
    // The frame's loops compiled for AVX2 where the CPU has it (`simd`: the closure is
    // inlined into the wide instance).
    simd(
        #[inline(always)]
        || {
            let co = g.channels_out;
            let pixels = grad.len() / co;
            transpose(grad, grad_t, pixels, F::ONE);
            for_each_event(x, offset, g, |row, pixel, run, value| {
                let len = run * co;
                axpy(
                    &mut rows[row * co..][..len],
                    scale * value,
                    &grad_t[pixel * co..][..len],
                );
            });
        },
    )
}

/// `acc += value·row`, the inner loop of both directions (vectorizes).
#[inline(always)]
fn axpy<F: Real>(acc: &mut [F], value: F, row: &[F]) {
    for (a, &r) in acc.iter_mut().zip(row) {
        *a = *a + value * r;
    }
}

/// Event-driven `y[f] = scale[f / frames_per_sample] · conv2d(x[f], weight)`.
///
/// - `x`: `[frames, channels_in, height, width]`, contiguous
/// - `weight`: `[channels_out, channels_in, k, k]`
/// - `scale`: one factor per sample (`frames / frames_per_sample` of them)
/// - returns `[frames, channels_out, height', width']`
pub(crate) fn conv2d<F: Real>(
    x: Source<'_, F>,
    weight: &[F],
    layout: WeightLayout,
    scale: &[F],
    frames_per_sample: usize,
    g: &ConvGeometry,
) -> Vec<F> {
    let (fin, fout) = (g.frame_in(), g.frame_out());
    let (frames, rows) = event_rows("conv2d", &x, weight, layout, scale, frames_per_sample, g);
    let (co, pixels) = (g.channels_out, g.height_out() * g.width_out());
    if fout == 0 {
        return Vec::new();
    }
    let mut out = Output::new(frames * fout);
    let frame = |acc: &mut Vec<F>, (f, out): (usize, &mut [MaybeUninit<F>])| {
        conv2d_frame(
            &x,
            f * fin,
            &rows,
            g,
            acc,
            out,
            scale[f / frames_per_sample],
        );
    };
    if frames == 1 {
        // One frame (a stream's step at batch 1): on this thread, without the pool's hand-off.
        frame(&mut vec![F::ZERO; pixels * co], (0, out.slots()));
    } else {
        out.slots()
            .par_chunks_mut(fout)
            .enumerate()
            .for_each_init(|| vec![F::ZERO; pixels * co], frame);
    }
    // SAFETY: `conv2d_frame` writes every element of its frame.
    unsafe { out.assume_written() }
}

/// One frame of [`conv2d`]: the events into the channels-last `acc` (zero before and after),
/// then `scale·acc` into `out` (`[co, pixels]`; zeros for a silent frame). Writes every element
/// of `out`.
#[inline(never)]
fn conv2d_frame<F: Real>(
    x: &Source<'_, F>,
    offset: usize,
    rows: &[F],
    g: &ConvGeometry,
    acc: &mut [F],
    out: &mut [MaybeUninit<F>],
    scale: F,
) {
    // The frame's loops compiled for AVX2 where the CPU has it (`simd`: the closure is
    // inlined into the wide instance).
    simd(
        #[inline(always)]
        || {
            let co = g.channels_out;
            let mut any = false;
            for_each_event(x, offset, g, |row, pixel, run, value| {
                any = true;
                let len = run * co;
                axpy(
                    &mut acc[pixel * co..][..len],
                    value,
                    &rows[row * co..][..len],
                );
            });
            if any {
                transpose(acc, out, co, scale);
                acc.fill(F::ZERO);
            } else {
                out.fill(MaybeUninit::new(F::ZERO));
            }
        },
    )
}

/// Width of the channel groups of [`conv2d_spike`]'s jobs (one job per sample and group): all
/// output channels in one group unless the batch leaves threads idle, then groups of at least
/// 16 channels, as many as the threads per sample. Every group walks all of the frame's events,
/// and narrower groups cost more in all: the Table 2 network's inference took 1.9× as long with
/// groups of 8 channels and 1.2× with 16 as with one group (2 threads, batch 10).
fn group_width(channels_out: usize, batch: usize, threads: usize) -> usize {
    let groups = (threads / batch.max(1)).min(channels_out / 16).max(1);
    channels_out
        .div_ceil(groups)
        .next_multiple_of(8)
        .min(channels_out)
}

/// An event-driven synapse, the PSP filter of its output and spike generation, in one pass
/// that never writes the synapse's output `y = scale·conv2d(x, weight)` ([`conv2d`]).
///
/// Without `grad`: the spikes of `v = ε ∗ y` from rest ([`spike_fire`](super::cpu::spike_fire)
/// on [`psp_filter`](super::cpu::psp_filter)'s output), `[frames, channels_out, h', w']`.
/// With `grad` (`∂L/∂s`, same shape): the gradient with respect to `y`,
/// `εᵀ ∗ (ρ(u)·∂L/∂s)`, recomputing `y`, `v`, the refractory response and `ρ(u)` on the way.
///
/// Every job is one sample and one group of output channels ([`group_width`]), in time order:
/// a frame's events accumulate channels-last as in [`conv2d`], are transposed and scaled into
/// a frame-sized buffer as [`conv2d`] transposes them into its output, and the neurons step
/// their PSP and refractory recursions on that buffer, writing spikes (or gradients, reading
/// the output gradient where it lies) straight into the output. The arithmetic is that of the
/// separate ops in the same order (each element's sum over the same events, `scale·sum`, the
/// same recursions), so the spikes and gradients equal theirs exactly.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv2d_spike<F: Real>(
    x: Source<'_, F>,
    weight: &[F],
    layout: WeightLayout,
    scale: &[F],
    frames_per_sample: usize,
    g: &ConvGeometry,
    neuron: (f64, SpikeParams),
    grad: Option<&[F]>,
) -> Vec<F> {
    let fout = g.frame_out();
    let steps = frames_per_sample;
    let (frames, rows) = event_rows("conv2d_spike", &x, weight, layout, scale, steps, g);
    if let Some(grad) = grad {
        assert_eq!(
            grad.len(),
            frames * fout,
            "event conv2d_spike: gradient length"
        );
    }
    let co = g.channels_out;
    if fout == 0 || frames == 0 {
        return Vec::new();
    }
    let width = group_width(co, scale.len(), rayon::current_num_threads());
    conv2d_spike_in(x, &rows, scale, steps, g, neuron, grad, width)
}

/// [`conv2d_spike`] with the weight in event layout and output channels in groups of `width`.
#[allow(clippy::too_many_arguments)]
fn conv2d_spike_in<F: Real>(
    x: Source<'_, F>,
    rows: &[F],
    scale: &[F],
    steps: usize,
    g: &ConvGeometry,
    neuron: (f64, SpikeParams),
    grad: Option<&[F]>,
    width: usize,
) -> Vec<F> {
    let (fin, fout) = (g.frame_in(), g.frame_out());
    let frames = x.len() / fin;
    let (co, pixels) = (g.channels_out, g.height_out() * g.width_out());
    let groups = co.div_ceil(width);
    let psp = AlphaPsp::<F>::new(neuron.0);
    let firing = Firing::<F>::new(neuron.1);
    let surrogate = Surrogate::<F>::new(neuron.1);
    let mut out = Output::new(frames * fout);
    let ptr = out.ptr();
    let job = |job: usize| {
        let (sample, first) = (job / groups, job % groups * width);
        let cg = width.min(co - first);
        let n = cg * pixels;
        // The accumulator channels-last (as the events add rows of weights), the synapse's
        // output and the neurons' traces channels-first, as the output.
        let [mut acc, mut y, mut w, mut z, mut r] = core::array::from_fn(|_| vec![F::ZERO; n]);
        let factor = scale[sample];
        let block = |t: usize| (sample * steps + t) * fout + first * pixels;
        simd(
            #[inline(always)]
            || {
                for t in 0..steps {
                    let frame = (sample * steps + t) * fin;
                    let mut any = false;
                    for_each_event(
                        &x,
                        frame,
                        g,
                        #[inline(always)]
                        |row, pixel, run, value| {
                            any = true;
                            if cg == co {
                                let len = run * co;
                                axpy(
                                    &mut acc[pixel * co..][..len],
                                    value,
                                    &rows[row * co..][..len],
                                );
                            } else {
                                for j in 0..run {
                                    axpy(
                                        &mut acc[(pixel + j) * cg..][..cg],
                                        value,
                                        &rows[(row + j) * co + first..][..cg],
                                    );
                                }
                            }
                        },
                    );
                    // `y = scale·acc`, channels-first: what `conv2d` writes.
                    if any {
                        transpose(&acc, &mut y, cg, factor);
                        acc.fill(F::ZERO);
                    } else {
                        y.fill(F::ZERO);
                    }
                    // SAFETY: this job's channels of this frame, in bounds; no other job
                    // writes them.
                    let dst = unsafe { ptr.slice(block(t), n) };
                    let neurons = y
                        .iter()
                        .zip(w.iter_mut())
                        .zip(z.iter_mut())
                        .zip(r.iter_mut());
                    match grad {
                        None => {
                            for ((((&y, w), z), r), s) in neurons.zip(dst.iter_mut()) {
                                s.write(firing.step(r, psp.step(w, z, y)).1);
                            }
                        }
                        Some(grad) => {
                            let grad = &grad[block(t)..][..n];
                            for (((((&y, w), z), r), d), &gs) in
                                neurons.zip(dst.iter_mut()).zip(grad)
                            {
                                let (u, _) = firing.step(r, psp.step(w, z, y));
                                d.write(gs * surrogate.at(u));
                            }
                        }
                    }
                }
                if grad.is_some() {
                    // The adjoint filter over this job's output, last step first, in place.
                    w.fill(F::ZERO);
                    z.fill(F::ZERO);
                    for t in (0..steps).rev() {
                        // SAFETY: as above; written in the loop above.
                        let dst = unsafe { ptr.slice(block(t), n) };
                        for ((d, w), z) in dst.iter_mut().zip(w.iter_mut()).zip(z.iter_mut()) {
                            // SAFETY: written in the loop above.
                            let x = unsafe { d.assume_init() };
                            d.write(psp.step(w, z, x));
                        }
                    }
                }
            },
        )
    };
    let jobs = scale.len() * groups;
    if jobs == 1 {
        job(0);
    } else {
        (0..jobs).into_par_iter().for_each(job);
    }
    // SAFETY: the jobs cover every sample, channel, step and pixel once.
    unsafe { out.assume_written() }
}

/// `out[o·n + i] = scale·src[i·cols + o]`: `src` is `[n, cols]`, `out` `[cols, n]`. For `f32`
/// on a CPU with AVX2, 8×8 blocks transposed in registers ([`transpose_f32_blocks`]: eight
/// vector loads and stores instead of 64 scalar ones; a third of the event forward's time went
/// to the scalar version) and the edges below; otherwise in tiles that stay in L1 (contiguous
/// writes of 16 rows at a time). Same values either way (one multiplication each).
#[inline(always)]
fn transpose<F: Real, S: Slot<F>>(src: &[F], out: &mut [S], cols: usize, scale: F) {
    let n = src.len() / cols;
    assert!(out.len() >= n * cols, "transpose: output too short");
    #[cfg(target_arch = "x86_64")]
    if core::any::TypeId::of::<F>() == core::any::TypeId::of::<f32>()
        && core::mem::size_of::<S>() == core::mem::size_of::<f32>()
        && n >= 8
        && cols >= 8
        && std::arch::is_x86_feature_detected!("avx2")
    {
        let (n8, c8) = (n / 8 * 8, cols / 8 * 8);
        // SAFETY: `F` is `f32` and `S` is `F` or `MaybeUninit<F>` (the only `Slot`s), both laid
        // out as `f32`; the blocks read `src[..n8·cols]` and write `out[..c8·n]`, in bounds
        // (asserted above); AVX2 was detected.
        unsafe {
            transpose_f32_blocks(
                src.as_ptr().cast::<f32>(),
                out.as_mut_ptr().cast::<f32>(),
                n,
                cols,
                scale.to_f64() as f32,
            );
        }
        let at = |i: usize, o: usize| scale * src[i * cols + o];
        for o in 0..cols {
            let rows = if o < c8 { n8..n } else { 0..n };
            for i in rows {
                out[o * n + i].set(at(i, o));
            }
        }
        return;
    }
    const TILE: usize = 16;
    for start in (0..n).step_by(TILE) {
        let end = (start + TILE).min(n);
        for o in 0..cols {
            let dst = &mut out[o * n + start..o * n + end];
            for (i, d) in dst.iter_mut().enumerate() {
                d.set(scale * src[(start + i) * cols + o]);
            }
        }
    }
}

/// The full 8×8 blocks of [`transpose`] for `f32`: rows `0..n / 8 · 8` of `src` (`[n, cols]`)
/// and columns `0..cols / 8 · 8`, each block loaded as eight rows, transposed with unpack,
/// shuffle and lane-permute steps, scaled and stored as eight columns.
///
/// # Safety
/// The CPU has AVX2; `src` holds `n·cols` values and `out` `cols·n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_f32_blocks(src: *const f32, out: *mut f32, n: usize, cols: usize, scale: f32) {
    use core::arch::x86_64::*;
    let s = _mm256_set1_ps(scale);
    for i0 in (0..n / 8 * 8).step_by(8) {
        for o0 in (0..cols / 8 * 8).step_by(8) {
            // SAFETY: rows i0..i0+8 and columns o0..o0+8 are within `src` (caller).
            let r: [__m256; 8] =
                core::array::from_fn(|k| unsafe { _mm256_loadu_ps(src.add((i0 + k) * cols + o0)) });
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let c = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            for (j, column) in c.into_iter().enumerate() {
                // SAFETY: output row o0 + j < cols, columns i0..i0+8 < n (caller).
                unsafe { _mm256_storeu_ps(out.add((o0 + j) * n + i0), _mm256_mul_ps(column, s)) };
            }
        }
    }
}

/// An element written once: a value or a not yet initialized one.
trait Slot<F> {
    fn set(&mut self, value: F);
}

impl<F: Real> Slot<F> for F {
    #[inline(always)]
    fn set(&mut self, value: F) {
        *self = value;
    }
}

impl<F: Real> Slot<F> for MaybeUninit<F> {
    #[inline(always)]
    fn set(&mut self, value: F) {
        self.write(value);
    }
}

/// Event-driven weight gradient of [`conv2d`]:
/// `∂L/∂W[o, c, ky, kx] = Σ_f scale[f / frames_per_sample] · Σ_{y', x'} g[f, o, y', x'] ·
/// x[f, c, y'·s − p + ky, x'·s − p + kx]`.
///
/// - `x`: `[frames, channels_in, height, width]`
/// - `grad`: `[frames, channels_out, height', width']`
/// - returns `[channels_out, channels_in, k, k]`
pub(crate) fn conv2d_weight_grad<F: Real>(
    x: Source<'_, F>,
    grad: &[F],
    scale: &[F],
    frames_per_sample: usize,
    g: &ConvGeometry,
) -> Vec<F> {
    let (fin, fout) = (g.frame_in(), g.frame_out());
    assert_eq!(x.len() % fin, 0, "event conv2d weight grad: input length");
    let frames = x.len() / fin;
    assert_eq!(
        grad.len(),
        frames * fout,
        "event conv2d weight grad: grad length"
    );
    assert_eq!(
        scale.len() * frames_per_sample,
        frames,
        "event conv2d: scale"
    );
    let (co, pixels) = (g.channels_out, g.height_out() * g.width_out());
    let len = g.weight_len();
    // Partial sums over fixed runs of frames, added in order: the result does not depend on
    // how rayon schedules the runs (a resumed training run repeats an uninterrupted one bit
    // for bit).
    let partials: Vec<Vec<F>> = (0..frames.div_ceil(FRAMES_PER_PARTIAL))
        .into_par_iter()
        .map(|run| {
            let mut rows = vec![F::ZERO; len];
            let mut grad_t = vec![F::ZERO; pixels * co];
            let end = ((run + 1) * FRAMES_PER_PARTIAL).min(frames);
            for f in run * FRAMES_PER_PARTIAL..end {
                if x.is_zero(f * fin, fin) {
                    continue;
                }
                let gf = &grad[f * fout..][..fout];
                let s = scale[f / frames_per_sample];
                weight_grad_frame(&x, f * fin, gf, g, &mut grad_t, &mut rows, s);
            }
            rows
        })
        .collect();
    let mut rows = vec![F::ZERO; len];
    for partial in partials {
        for (x, y) in rows.iter_mut().zip(partial) {
            *x = *x + y;
        }
    }
    // [ci, k, k, co] → [co, ci, k, k].
    let taps = len / co.max(1);
    let mut weight_grad = vec![F::ZERO; len];
    for tap in 0..taps {
        for o in 0..co {
            weight_grad[o * taps + tap] = rows[tap_row(tap, g.kernel) * co + o];
        }
    }
    weight_grad
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The multiply-and-shift division agrees with `/` for every numerator up to its bound, at
    /// the divisors the frames use and at their edges (1, powers of two, a bound of `2³²/d`).
    #[test]
    fn fast_div_divides() {
        for d in [1, 2, 3, 7, 28, 32, 34, 1156, 4096, 36_992, 65_537] {
            let max = (1usize << 32) / d - 1;
            let fast = FastDiv::new(d, max);
            assert_ne!(fast.m, 0, "d = {d}: the multiplication applies");
            let probes = (0..=max.min(70_000)).chain(max.saturating_sub(70_000)..=max);
            for n in probes {
                assert_eq!(fast.div(n), n / d, "{n} / {d}");
            }
        }
        // Past the bound: the plain division.
        let slow = FastDiv::new(34, 1 << 32);
        assert_eq!(slow.m, 0);
        assert_eq!(slow.div(usize::MAX / 2), usize::MAX / 2 / 34);
    }

    /// Direct convolution in f64 (the definition).
    fn direct(x: &[f64], w: &[f64], frames: usize, g: &ConvGeometry) -> Vec<f64> {
        let (ho, wo, k) = (g.height_out(), g.width_out(), g.kernel);
        let mut y = vec![0.0; frames * g.channels_out * ho * wo];
        for f in 0..frames {
            for o in 0..g.channels_out {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut sum = 0.0;
                        for c in 0..g.channels_in {
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
                                    sum += w[((o * g.channels_in + c) * k + ky) * k + kx]
                                        * x[((f * g.channels_in + c) * g.height + iy as usize)
                                            * g.width
                                            + ix as usize];
                                }
                            }
                        }
                        y[((f * g.channels_out + o) * ho + oy) * wo + ox] = sum;
                    }
                }
            }
        }
        y
    }

    pub(crate) fn pseudo_random(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_direct_convolution_and_its_adjoint() {
        let cases = [
            (1, 3, 1, 5, 7),
            (2, 3, 1, 7, 6),
            (1, 1, 0, 3, 3),
            (2, 5, 2, 9, 9),
            (1, 3, 0, 6, 5),
            (1, 5, 1, 4, 8),
            (1, 2, 1, 5, 5),
        ];
        for (stride, kernel, padding, h, w) in cases {
            let g = ConvGeometry {
                channels_in: 3,
                channels_out: 4,
                height: h,
                width: w,
                kernel,
                stride,
                padding,
            };
            let frames = 4;
            // Sparse input: about a third nonzero, some non-binary values.
            let x: Vec<f64> = pseudo_random(frames * g.frame_in(), 1)
                .into_iter()
                .map(|v| if v > 0.3 { v } else { 0.0 })
                .collect();
            let weight = pseudo_random(g.weight_len(), 2);
            let scale = [0.5, 2.0];
            let y = conv2d(
                Source::Values(&x),
                &weight,
                WeightLayout::OutIn,
                &scale,
                2,
                &g,
            );
            let want = direct(&x, &weight, frames, &g);
            let fout = g.frame_out();
            for (i, (a, b)) in y.iter().zip(&want).enumerate() {
                let s = scale[i / fout / 2];
                assert!(
                    (a - s * b).abs() < 1e-12,
                    "{stride} {kernel}: {i}: {a} vs {}",
                    s * b
                );
            }
            // <conv(x), r> = <x, ·> is linear in W: the weight gradient of Σ r·y is
            // ∂/∂W Σ r·conv(x, W), checked against the direct convolution with unit weights.
            let r = pseudo_random(frames * fout, 3);
            let grad = conv2d_weight_grad(Source::Values(&x), &r, &scale, 2, &g);
            for (idx, &gw) in grad.iter().enumerate() {
                let mut unit = vec![0.0; g.weight_len()];
                unit[idx] = 1.0;
                let y_unit = direct(&x, &unit, frames, &g);
                let want: f64 = y_unit
                    .iter()
                    .zip(&r)
                    .enumerate()
                    .map(|(i, (y, r))| scale[i / fout / 2] * y * r)
                    .sum();
                assert!((gw - want).abs() < 1e-12, "weight {idx}: {gw} vs {want}");
            }
        }
    }

    /// The fused synapse → PSP → spike kernel against the ops it fuses ([`conv2d`], then
    /// `psp_filter` and `spike_fire` of `cpu`; with a gradient, its product with the surrogate
    /// and the adjoint filter), bit for bit: one group and groups of 8 channels (the last one
    /// partial), stride 1 and 2, spikes as bits.
    #[test]
    fn the_fused_spike_kernel_equals_the_ops_it_fuses() {
        use crate::kernels::cpu::{TimeLayout, psp_filter, spike_fire};
        let params = SpikeParams {
            theta: 0.3,
            tau_r: 2.0,
            alpha: 1.5,
            beta: 0.7,
        };
        let tau_s = 2.5;
        for (stride, width) in [(1, 20), (1, 8), (2, 8), (2, 16)] {
            let g = ConvGeometry {
                channels_in: 3,
                channels_out: 20,
                height: 7,
                width: 6,
                kernel: 3,
                stride,
                padding: 1,
            };
            let (batch, steps) = (2, 9);
            let frames = batch * steps;
            let x: Vec<f32> = pseudo_random(frames * g.frame_in(), 4)
                .into_iter()
                .map(|v| if v > 0.6 { 1.0 } else { 0.0 })
                .collect();
            let bits = pack_bits(&x);
            let x_bits = Source::bits(&bits, x.len());
            let weight: Vec<f32> = pseudo_random(g.weight_len(), 5)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            let scale = [0.8f32, 1.7];
            let grad: Vec<f32> = pseudo_random(frames * g.frame_out(), 6)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            // The ops one after the other.
            let y = conv2d(x_bits, &weight, WeightLayout::OutIn, &scale, steps, &g);
            let layout = TimeLayout {
                batch,
                time: steps,
                neurons: g.frame_out(),
            };
            let v = psp_filter(&y, layout, tau_s, false);
            let fired = spike_fire::<f32, true>(&v, layout, params, None);
            let product: Vec<f32> = grad
                .iter()
                .zip(&fired.surrogate)
                .map(|(g, r)| g * r)
                .collect();
            let want_grad = psp_filter(&product, layout, tau_s, true);
            assert!(fired.spikes.contains(&1.0) && fired.spikes.contains(&0.0));
            // Fused.
            let rows = weight_rows(&weight, &g);
            let neuron = (tau_s, params);
            let spikes = conv2d_spike_in(x_bits, &rows, &scale, steps, &g, neuron, None, width);
            let got_grad =
                conv2d_spike_in(x_bits, &rows, &scale, steps, &g, neuron, Some(&grad), width);
            for (what, got, want) in [
                ("spikes", &spikes, &fired.spikes),
                ("gradient", &got_grad, &want_grad),
            ] {
                assert_eq!(got.len(), want.len(), "{what}: length");
                let first = got.iter().zip(want.iter()).position(|(a, b)| a != b);
                assert!(
                    first.is_none(),
                    "stride {stride}, width {width}: {what} differ first at {first:?}"
                );
            }
        }
        // Groups: one while the batch keeps the threads busy, 16 channels or more otherwise.
        assert_eq!(group_width(32, 10, 2), 32);
        assert_eq!(group_width(32, 10, 16), 32);
        assert_eq!(group_width(32, 1, 2), 16);
        assert_eq!(group_width(64, 2, 16), 16);
        assert_eq!(group_width(48, 1, 2), 24);
        assert_eq!(group_width(20, 1, 4), 20);
        assert_eq!(group_width(4, 1, 16), 4);
    }

    /// Spikes read as bits give what the same spikes give as floats, bit for bit (the same
    /// events in the same order).
    #[test]
    fn bits_give_what_the_values_give() {
        for (stride, kernel, padding, h, w) in [(1, 3, 1, 9, 11), (2, 3, 1, 8, 8), (1, 1, 0, 1, 1)]
        {
            let g = ConvGeometry {
                channels_in: 5,
                channels_out: 3,
                height: h,
                width: w,
                kernel,
                stride,
                padding,
            };
            let frames = 6;
            let x: Vec<f32> = pseudo_random(frames * g.frame_in(), 4)
                .into_iter()
                .map(|v| if v > 0.7 { 1.0 } else { 0.0 })
                .collect();
            assert!(x.contains(&1.0));
            let bits = pack_bits(&x);
            let weight: Vec<f32> = pseudo_random(g.weight_len(), 5)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            let scale = [0.5f32, 2.0, 1.5];
            let values = Source::Values(&x);
            let packed = Source::bits(&bits, x.len());
            assert_eq!(
                conv2d(values, &weight, WeightLayout::OutIn, &scale, 2, &g),
                conv2d(packed, &weight, WeightLayout::OutIn, &scale, 2, &g)
            );
            let r: Vec<f32> = pseudo_random(frames * g.frame_out(), 6)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            assert_eq!(
                conv2d_weight_grad(values, &r, &scale, 2, &g),
                conv2d_weight_grad(packed, &r, &scale, 2, &g)
            );
            assert_eq!(source_density(values), source_density(packed));
        }
    }

    /// The AVX2 block transpose (where the CPU has it) and the tiled one give the scalar
    /// definition exactly, edges included.
    #[test]
    fn transpose_matches_the_definition() {
        for (n, cols) in [
            (1, 1),
            (7, 9),
            (8, 8),
            (16, 32),
            (1156, 32),
            (19, 13),
            (32, 1156),
        ] {
            let src: Vec<f32> = pseudo_random(n * cols, (n * cols) as u64)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            let mut out = vec![0.0f32; n * cols];
            transpose(&src, &mut out, cols, 1.5f32);
            let mut uninit = vec![MaybeUninit::<f32>::uninit(); n * cols];
            transpose(&src, &mut uninit, cols, 1.5f32);
            let mut wide = vec![0.0f64; n * cols];
            let src64: Vec<f64> = src.iter().map(|&v| f64::from(v)).collect();
            transpose(&src64, &mut wide, cols, 1.5f64);
            for o in 0..cols {
                for i in 0..n {
                    let want = 1.5f32 * src[i * cols + o];
                    assert_eq!(out[o * n + i], want, "n {n}, cols {cols}, ({i}, {o})");
                    // SAFETY: `transpose` writes every element.
                    assert_eq!(unsafe { uninit[o * n + i].assume_init() }, want);
                    assert_eq!(wide[o * n + i], 1.5 * src64[i * cols + o]);
                }
            }
        }
    }

    #[test]
    fn bits_round_trip() {
        for len in [0, 1, 7, 8, 9, 100_003] {
            let x: Vec<f32> = pseudo_random(len, len as u64)
                .into_iter()
                .map(|v| if v > 0.6 { 1.0 } else { 0.0 })
                .collect();
            let bits = pack_bits(&x);
            assert_eq!(bits.len(), len.div_ceil(8));
            assert_eq!(unpack_bits::<f32>(&bits, len), x, "length {len}");
        }
        assert_eq!(
            pack_bits(&[1.0f64, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]),
            [0b1001, 1]
        );
    }

    #[test]
    fn density_counts_nonzeros() {
        assert_eq!(density::<f32>(&[]), 0.0);
        assert_eq!(density(&[0.0f32, 1.0, 0.0, 0.5]), 0.5);
        assert_eq!(estimate_density(&[0.0f32, 1.0, 0.0, 0.5]), 0.5);
        // Large: estimated from every 8th block, close to the exact density.
        for threshold in [0.9, 0.5, -0.5] {
            let x: Vec<f32> = pseudo_random(1 << 20, 9)
                .into_iter()
                .map(|v| if v > threshold { 1.0 } else { 0.0 })
                .collect();
            let (exact, estimate) = (density(&x), estimate_density(&x));
            assert!((exact - estimate).abs() < 0.01, "{exact} vs {estimate}");
        }
        let mut x = vec![0.0f32; 1 << 20];
        x[..1 << 17].fill(1.0);
        assert!((estimate_density(&x) - 0.125).abs() < 0.01);
    }
}
