//! Plain CPU loops for the temporal operations, shared by the Flex and NdArray backends.
//!
//! A tensor `[batch, time, neurons...]` is seen as `[B, T, N]` (row-major, contiguous). The
//! work is cut into *column blocks*: one sample `b` and a run of at most 512 neighbouring
//! neurons. A block walks time once, keeping its state (two PSP traces, or the refractory
//! response) in a small stack array, and reads and writes one contiguous row slice per step,
//! so every element is read once and written once and the inner loop vectorizes. Blocks are
//! independent and run in parallel on rayon's pool when the tensor is large.

use super::SpikeParams;
use super::source::Source;
use core::mem::MaybeUninit;
use core::ops::{Add, Mul, Neg, Sub};
use rayon::prelude::*;

/// Neurons per column block: large enough for long contiguous row slices, small enough that
/// the block's state stays in L1.
const BLOCK: usize = 512;

/// Below this many elements the work runs on the calling thread (rayon's overhead dominates).
const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// A float type the CPU loops run on (`f32` or `f64`).
pub trait Real:
    bytemuck::Pod
    + burn::tensor::Element
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Converts (rounds) an `f64`.
    fn from_f64(value: f64) -> Self;
    /// Converts to `f64` (exactly).
    fn to_f64(self) -> f64;
    /// The bits of the value without the sign bit (0 exactly for ±0).
    fn magnitude_bits(self) -> u64;
    /// Absolute value.
    fn abs(self) -> Self;
    /// `e^self` for `self ≤ 0`, branch-free so that loops calling it vectorize.
    fn exp_nonpositive(self) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn magnitude_bits(self) -> u64 {
        u64::from(self.to_bits() << 1)
    }
    fn abs(self) -> Self {
        f32::abs(self)
    }
    fn exp_nonpositive(self) -> Self {
        exp_f32(self)
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn from_f64(value: f64) -> Self {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn magnitude_bits(self) -> u64 {
        self.to_bits() << 1
    }
    fn abs(self) -> Self {
        f64::abs(self)
    }
    fn exp_nonpositive(self) -> Self {
        self.exp()
    }
}

/// `e^x` in single precision without branches or calls, so that a loop over it vectorizes
/// (`f32::exp` calls libm one element at a time and would dominate the spike loop).
///
/// Cody–Waite reduction `x = n·ln2 + r`, `|r| ≤ ln2/2`, a degree-7 Taylor polynomial for
/// `e^r` (truncation error < 6e-9 relative) and `2^n` built in the exponent bits. Inputs are
/// clamped to `[−87, 88]`: below, the result is `e^−87 ≈ 1.6e−38` instead of a smaller
/// subnormal; NaN stays NaN. Relative error ≤ 3e-7 over the range (tested).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + SHIFTER;
    let n = shifted - SHIFTER;
    let n_bits = shifted.to_bits().wrapping_sub(SHIFTER.to_bits());
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0 / 5040.0 + r * (1.0 / 40320.0);
    let p = 1.0 / 720.0 + r * p;
    let p = 1.0 / 120.0 + r * p;
    let p = 1.0 / 24.0 + r * p;
    let p = 1.0 / 6.0 + r * p;
    let p = 0.5 + r * p;
    let p = 1.0 + r * p;
    let p = 1.0 + r * p;
    let scale = f32::from_bits(n_bits.wrapping_add(127).wrapping_shl(23));
    p * scale
}

/// Runs `f` compiled for AVX2 and FMA when the CPU has them (checked at run time; the crate
/// itself is built for baseline x86-64), as it is otherwise. `f` and what it calls must be
/// `#[inline(always)]` for the wider instructions to reach them: a loop's body, not a call to
/// an outlined function.
#[inline(always)]
pub(crate) fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        /// # Safety
        /// The CPU has AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: both features were detected on this CPU.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// A `[batch, time, neurons]` view of a contiguous tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeLayout {
    /// Samples (dim 0).
    pub batch: usize,
    /// Time steps (dim 1).
    pub time: usize,
    /// Neurons per step: the product of all dims after dim 1 (1 for a rank-2 tensor).
    pub neurons: usize,
}

impl TimeLayout {
    /// The view of a tensor with these dims (`dims.len() ≥ 2`).
    pub fn from_dims(dims: &[usize]) -> Self {
        assert!(dims.len() >= 2, "expected [batch, time, ...], got {dims:?}");
        Self {
            batch: dims[0],
            time: dims[1],
            neurons: dims[2..].iter().product(),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.batch * self.time * self.neurons
    }

    fn blocks_per_sample(&self) -> usize {
        self.neurons.div_ceil(BLOCK)
    }
}

/// One sample's run of neighbouring neurons.
#[derive(Clone, Copy, Debug)]
struct Block {
    batch: usize,
    start: usize,
    len: usize,
}

impl Block {
    /// Offset of this block's slice in the row of time step `t`.
    fn offset(&self, layout: &TimeLayout, t: usize) -> usize {
        (self.batch * layout.time + t) * layout.neurons + self.start
    }
}

/// A raw pointer into an output buffer, shared by blocks that write disjoint elements.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr<F>(*mut MaybeUninit<F>);

// SAFETY: every block writes only its own elements (disjoint column ranges of its own sample),
// so sharing the base pointer across threads never creates overlapping writes.
unsafe impl<F: Send> Send for OutPtr<F> {}
unsafe impl<F: Send> Sync for OutPtr<F> {}

impl<F> OutPtr<F> {
    /// The block's slice of the row of step `t`.
    ///
    /// # Safety
    /// `offset + len` is within the buffer, and no other live slice covers these elements.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, offset: usize, len: usize) -> &mut [MaybeUninit<F>] {
        // SAFETY: guaranteed by the caller.
        unsafe { core::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}

/// An output of `len` elements that the kernels write completely before it is read, so it is
/// never zero-filled first (zero-filling was 10% of a training step, issue 12). The CPU loops'
/// one way to allocate an output.
pub(crate) struct Output<F> {
    buf: Vec<F>,
    len: usize,
}

impl<F> Output<F> {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            buf: Vec::with_capacity(len),
            len,
        }
    }

    /// The `len` elements, not yet written.
    pub(crate) fn slots(&mut self) -> &mut [MaybeUninit<F>] {
        &mut self.buf.spare_capacity_mut()[..self.len]
    }

    pub(crate) fn ptr(&mut self) -> OutPtr<F> {
        OutPtr(self.slots().as_mut_ptr())
    }

    /// The written buffer.
    ///
    /// # Safety
    /// Every one of the `len` elements has been written (through [`slots`](Self::slots) or
    /// [`ptr`](Self::ptr)).
    pub(crate) unsafe fn assume_written(mut self) -> Vec<F> {
        // SAFETY: guaranteed by the caller; the capacity is `len`.
        unsafe { self.buf.set_len(self.len) };
        self.buf
    }
}

/// Runs `f` on every column block, in parallel when the tensor is large.
///
/// Every block runs in [`simd`]: the loops' bodies are `#[inline(always)]` closures, so that
/// they are compiled for AVX2 where the CPU has it.
fn for_each_block(layout: &TimeLayout, f: impl Fn(Block) + Sync) {
    let per_sample = layout.blocks_per_sample();
    let block = |i: usize| {
        let start = (i % per_sample) * BLOCK;
        let block = Block {
            batch: i / per_sample,
            start,
            len: BLOCK.min(layout.neurons - start),
        };
        simd(
            #[inline(always)]
            || f(block),
        )
    };
    let count = layout.batch * per_sample;
    if layout.len() < PARALLEL_MIN_ELEMENTS {
        (0..count).for_each(block);
    } else {
        (0..count).into_par_iter().for_each(block);
    }
}

/// The alpha-PSP filter (or its adjoint) of a contiguous `[B, T, N]` buffer; see
/// [`crate::functional::psp`] for the equation.
///
/// `ε(k) = (e/τ)·k·q^k` with `q = e^{−1/τ}` is the impulse response of two cascaded one-pole
/// filters, so with `w[t] = q·w[t−1] + x[t]` and `z[t] = q·z[t−1] + w[t−1]`,
/// `y[t] = (e/τ)·q·z[t]` exactly. The adjoint runs the same recursion from the last step to
/// the first.
pub fn psp_filter<F: Real>(x: &[F], layout: TimeLayout, tau_s: f64, reverse: bool) -> Vec<F> {
    psp_filter_from(x, layout, tau_s, reverse, None).0
}

/// [`psp_filter`] from the filter state `carry` (`[B, 2, N]`: the traces `w`, then `z`, after
/// the previous chunk; zero when `None`), returning the output and the state after the last
/// step (empty when `carry` is `None`). Running a sequence chunk by chunk, each from the state
/// the previous one returned, gives the same values as one call on the whole sequence: the
/// same recursion in the same order.
pub fn psp_filter_from<F: Real>(
    x: &[F],
    layout: TimeLayout,
    tau_s: f64,
    reverse: bool,
    carry: Option<&[F]>,
) -> (Vec<F>, Vec<F>) {
    assert_eq!(
        x.len(),
        layout.len(),
        "psp_filter: buffer does not match {layout:?}"
    );
    let (carried, state) = Carried::new(carry, layout, 2);
    let mut y = Output::new(x.len());
    let psp = AlphaPsp::<F>::new(tau_s);
    let out = y.ptr();
    for_each_block(
        &layout,
        #[inline(always)]
        |block| {
            let mut local = None;
            // SAFETY: the block's own neurons (see `Carried::traces`).
            let [w, z] = unsafe { carried.traces(&block, &mut local) };
            for step in 0..layout.time {
                let t = if reverse {
                    layout.time - 1 - step
                } else {
                    step
                };
                let offset = block.offset(&layout, t);
                let xs = &x[offset..offset + block.len];
                // SAFETY: in bounds (same range as `xs`), and only this block touches it.
                let ys = unsafe { out.slice(offset, block.len) };
                for (((y, &x), w), z) in ys.iter_mut().zip(xs).zip(w.iter_mut()).zip(z.iter_mut()) {
                    y.write(psp.step(w, z, x));
                }
            }
        },
    );
    // SAFETY: the blocks cover every element at every step (`blocks_cover_every_element_once`).
    (unsafe { y.assume_written() }, state)
}

/// The state a recursion carries from one chunk of time steps to the next: `S` traces per
/// neuron, laid out `[B, S, N]` (a tensor shaped like the chunk with `S` steps), or nothing.
/// The new state starts as a copy of the old one and every block updates its own traces in it.
#[derive(Clone, Copy)]
struct Carried<F> {
    /// The new state, or `None` (every trace starts at zero and is not kept).
    state: Option<SharedMut<F>>,
    traces: usize,
    layout: TimeLayout,
}

impl<F: Real> Carried<F> {
    /// The carried traces and the buffer of the new state (a copy of `state`; empty without
    /// one), which the blocks update through [`traces`](Self::traces).
    ///
    /// # Panics
    /// If `state` is not `[B, traces, N]` for `layout`.
    fn new(state: Option<&[F]>, layout: TimeLayout, traces: usize) -> (Self, Vec<F>) {
        let mut copy = match state {
            Some(state) => {
                assert_eq!(
                    state.len(),
                    layout.batch * traces * layout.neurons,
                    "carried state does not match {layout:?} with {traces} traces"
                );
                state.to_vec()
            }
            None => Vec::new(),
        };
        let carried = Self {
            state: state.map(|_| SharedMut(copy.as_mut_ptr())),
            traces,
            layout,
        };
        (carried, copy)
    }

    fn offset(&self, block: &Block, trace: usize) -> usize {
        (block.batch * self.traces + trace) * self.layout.neurons + block.start
    }

    /// The block's `S` traces: its slices of the new state, or zeros in `local` without a
    /// state.
    ///
    /// # Safety
    /// The buffer [`new`](Self::new) returned is alive and not otherwise accessed, `S` is at
    /// most the state's traces, and no other block asks for the same block's traces.
    #[inline(always)]
    unsafe fn traces<'s, const S: usize>(
        &self,
        block: &Block,
        local: &'s mut Option<[[F; BLOCK]; S]>,
    ) -> [&'s mut [F]; S] {
        match self.state {
            // SAFETY: within the state (its length was checked in `new`), and these neurons of
            // this sample belong to this block only.
            Some(state) => {
                core::array::from_fn(|j| unsafe { state.slice(self.offset(block, j), block.len) })
            }
            None => local
                .insert([[F::ZERO; BLOCK]; S])
                .each_mut()
                .map(|trace| &mut trace[..block.len]),
        }
    }
}

/// One neuron's spike generation with the refractory response (eq. 4), see [`spike_fire`].
#[derive(Clone, Copy)]
pub(crate) struct Firing<F> {
    theta: F,
    /// `e^{−1/τr}`.
    decay: F,
    /// `−2θ`.
    reset: F,
}

impl<F: Real> Firing<F> {
    pub(crate) fn new(params: SpikeParams) -> Self {
        Self {
            theta: F::from_f64(params.theta),
            decay: F::from_f64((-1.0 / params.tau_r).exp()),
            reset: F::from_f64(-2.0 * params.theta),
        }
    }

    /// One step: `u = v + r`, the spike `[u ≥ θ]`, and `r` moves to the next step. Returns
    /// `(u, spike)`.
    #[inline(always)]
    pub(crate) fn step(self, r: &mut F, v: F) -> (F, F) {
        let u = v + *r;
        let fired = if u >= self.theta { F::ONE } else { F::ZERO };
        *r = self.decay * (*r + self.reset * fired);
        (u, fired)
    }
}

/// The second moment of the PSP `a = ε ∗ x` (see [`psp_filter`]) of a contiguous `[B, T, N]`
/// buffer, `mean(a²)` per sample (`per_sample`, PSP-LN) or per channel (PSP-BN: `channels`
/// groups of `N / channels` neighbouring neurons, dim 2 of `[B, T, C, ...]`), without writing
/// `a`: every block runs the PSP recursion and sums `a²` over time per neuron; the sums are
/// then added up per group in `f64`, in a fixed order.
pub(crate) fn psp_moment<F: Real>(
    x: Source<'_, F>,
    layout: TimeLayout,
    tau_s: f64,
    per_sample: bool,
    channels: usize,
) -> Vec<F> {
    let groups = Groups::new(x.len(), layout, per_sample, channels);
    let mut sums = Output::new(layout.batch * layout.neurons);
    let psp = AlphaPsp::<F>::new(tau_s);
    let out = sums.ptr();
    for_each_block(
        &layout,
        #[inline(always)]
        |block| {
            let mut w = [F::ZERO; BLOCK];
            let mut z = [F::ZERO; BLOCK];
            let mut acc = [F::ZERO; BLOCK];
            let mut row = [F::ZERO; BLOCK];
            let (w, z, acc, row) = (
                &mut w[..block.len],
                &mut z[..block.len],
                &mut acc[..block.len],
                &mut row[..block.len],
            );
            for t in 0..layout.time {
                let offset = block.offset(&layout, t);
                let xs = x.row(offset, row);
                for (((&x, w), z), acc) in xs
                    .iter()
                    .zip(w.iter_mut())
                    .zip(z.iter_mut())
                    .zip(acc.iter_mut())
                {
                    let y = psp.step(w, z, x);
                    *acc = *acc + y * y;
                }
            }
            // SAFETY: the block's neurons of its sample, written by this block only.
            let dst = unsafe { out.slice(block.batch * layout.neurons + block.start, block.len) };
            for (d, &a) in dst.iter_mut().zip(acc.iter()) {
                d.write(a);
            }
        },
    );
    // SAFETY: the blocks cover every neuron of every sample (`blocks_cover_every_element_once`).
    let sums = unsafe { sums.assume_written() };
    // Samples are rows of `sums`, channels runs of `spatial` within every row.
    let mut moment = vec![0.0f64; groups.len()];
    for (b, row) in sums.chunks(layout.neurons).enumerate() {
        for (c, run) in row.chunks(groups.spatial).enumerate() {
            moment[groups.of(b, c * groups.spatial)] += run.iter().map(|v| v.to_f64()).sum::<f64>();
        }
    }
    let count = groups.count as f64;
    moment.into_iter().map(|m| F::from_f64(m / count)).collect()
}

/// The groups of a PSP statistic on a `[B, T, N]` buffer: the samples, or `channels` runs of
/// `N / channels` neighbouring neurons (dim 2 of `[B, T, C, ...]`).
struct Groups {
    per_sample: bool,
    channels: usize,
    /// Neurons per channel.
    spatial: usize,
    /// Elements per group.
    count: usize,
}

impl Groups {
    /// # Panics
    /// If `x` does not match `layout` or the neurons are not `channels` equal runs.
    fn new(len: usize, layout: TimeLayout, per_sample: bool, channels: usize) -> Self {
        assert_eq!(
            len,
            layout.len(),
            "psp_moment: buffer does not match {layout:?}"
        );
        assert!(
            channels > 0 && layout.neurons.is_multiple_of(channels),
            "psp_moment: {} neurons are not {channels} channels",
            layout.neurons
        );
        let spatial = layout.neurons / channels;
        let count = if per_sample {
            layout.time * layout.neurons
        } else {
            layout.batch * layout.time * spatial
        };
        Self {
            per_sample,
            channels: if per_sample { layout.batch } else { channels },
            spatial,
            count,
        }
    }

    fn len(&self) -> usize {
        self.channels
    }

    /// The group of neuron `n` of sample `b`.
    #[inline(always)]
    fn of(&self, b: usize, n: usize) -> usize {
        if self.per_sample { b } else { n / self.spatial }
    }
}

/// The gradient of [`psp_moment`] with respect to `x`: with `a = ε ∗ x` and `∂L/∂m[g]` in
/// `grad` (one per group: sample or channel), `∂L/∂x = εᵀ ∗ (2·a·∂L/∂m[g] / n_g)`. Every block
/// recomputes its `a` into the output, scaled, and runs the adjoint filter over it in place,
/// while the block's rows are still in cache (the tensor path writes `a`, multiplies, and
/// filters again, three passes over memory).
pub(crate) fn psp_moment_backward<F: Real>(
    x: Source<'_, F>,
    layout: TimeLayout,
    tau_s: f64,
    per_sample: bool,
    channels: usize,
    grad: &[F],
) -> Vec<F> {
    let groups = Groups::new(x.len(), layout, per_sample, channels);
    assert_eq!(
        grad.len(),
        groups.len(),
        "psp_moment_backward: one gradient per group"
    );
    let factors: Vec<F> = grad
        .iter()
        .map(|&g| F::from_f64(2.0 / groups.count as f64) * g)
        .collect();
    let mut y = Output::new(x.len());
    let psp = AlphaPsp::<F>::new(tau_s);
    let out = y.ptr();
    for_each_block(
        &layout,
        #[inline(always)]
        |block| {
            let mut factor = [F::ZERO; BLOCK];
            let factor = &mut factor[..block.len];
            for (i, f) in factor.iter_mut().enumerate() {
                *f = factors[groups.of(block.batch, block.start + i)];
            }
            let mut w = [F::ZERO; BLOCK];
            let mut z = [F::ZERO; BLOCK];
            let mut row = [F::ZERO; BLOCK];
            let (w, z, row) = (
                &mut w[..block.len],
                &mut z[..block.len],
                &mut row[..block.len],
            );
            for t in 0..layout.time {
                let offset = block.offset(&layout, t);
                let xs = x.row(offset, row);
                // SAFETY: in bounds (same range as `xs`), and only this block touches it.
                let ys = unsafe { out.slice(offset, block.len) };
                for ((((y, &x), w), z), &f) in ys
                    .iter_mut()
                    .zip(xs)
                    .zip(w.iter_mut())
                    .zip(z.iter_mut())
                    .zip(factor.iter())
                {
                    y.write(f * psp.step(w, z, x));
                }
            }
            w.fill(F::ZERO);
            z.fill(F::ZERO);
            for t in (0..layout.time).rev() {
                let offset = block.offset(&layout, t);
                // SAFETY: as above; every element of the block was written in the first loop.
                let ys = unsafe { out.slice(offset, block.len) };
                for ((y, w), z) in ys.iter_mut().zip(w.iter_mut()).zip(z.iter_mut()) {
                    // SAFETY: written by the forward loop above.
                    let x = unsafe { y.assume_init() };
                    y.write(psp.step(w, z, x));
                }
            }
        },
    );
    // SAFETY: the blocks cover every element at every step (`blocks_cover_every_element_once`).
    unsafe { y.assume_written() }
}

/// The alpha-PSP recursion of [`psp_filter`] for one neuron: with `w[t] = q·w[t−1] + x[t]` and
/// `z[t] = q·z[t−1] + w[t−1]`, `y[t] = (e/τ)·q·z[t]`.
#[derive(Clone, Copy)]
pub(crate) struct AlphaPsp<F> {
    q: F,
    gain: F,
}

impl<F: Real> AlphaPsp<F> {
    pub(crate) fn new(tau_s: f64) -> Self {
        let decay = (-1.0 / tau_s).exp();
        Self {
            q: F::from_f64(decay),
            gain: F::from_f64(core::f64::consts::E / tau_s * decay),
        }
    }

    /// One step: the state `(w, z)` takes `x`, returns `y`.
    #[inline(always)]
    pub(crate) fn step(self, w: &mut F, z: &mut F, x: F) -> F {
        let w_prev = *w;
        *z = self.q * *z + w_prev;
        *w = self.q * w_prev + x;
        self.gain * *z
    }
}

/// An operation the CPU backends run: one contiguous input, `N` outputs of its shape.
pub trait CpuKernel<const N: usize>: Sync {
    /// Runs on a contiguous `[B, T, N]` buffer.
    fn run<F: Real>(&self, input: &[F], layout: TimeLayout) -> [Vec<F>; N];
}

/// A recursion in time the CPU backends run from a carried state: one contiguous input, its
/// output and the state after its last step (see [`psp_filter_from`]).
pub trait CarryKernel: Sync {
    /// Runs on a contiguous `[B, T, N]` buffer from `state` (`[B, S, N]`, `S` traces per neuron); returns the
    /// output and the new state.
    fn run<F: Real>(&self, input: &[F], state: &[F], layout: TimeLayout) -> (Vec<F>, Vec<F>);
}

/// [`psp_filter`] as a [`CpuKernel`], and forward in time as a [`CarryKernel`].
#[derive(Clone, Copy, Debug)]
pub struct PspKernel {
    /// PSP time constant τs (steps).
    pub tau_s: f64,
    /// Run the adjoint (backward in time).
    pub reverse: bool,
}

impl CpuKernel<1> for PspKernel {
    fn run<F: Real>(&self, input: &[F], layout: TimeLayout) -> [Vec<F>; 1] {
        [psp_filter(input, layout, self.tau_s, self.reverse)]
    }
}

impl CarryKernel for PspKernel {
    fn run<F: Real>(&self, input: &[F], state: &[F], layout: TimeLayout) -> (Vec<F>, Vec<F>) {
        psp_filter_from(input, layout, self.tau_s, self.reverse, Some(state))
    }
}

/// [`spike_fire`] as a [`CpuKernel`]: outputs the spikes, then the surrogate when `SURROGATE`;
/// without the surrogate also a [`CarryKernel`] (the refractory response is the state).
#[derive(Clone, Copy, Debug)]
pub struct SpikeKernel<const SURROGATE: bool>(pub SpikeParams);

impl CpuKernel<1> for SpikeKernel<false> {
    fn run<F: Real>(&self, input: &[F], layout: TimeLayout) -> [Vec<F>; 1] {
        [spike_fire::<F, false>(input, layout, self.0, None).spikes]
    }
}

impl CpuKernel<2> for SpikeKernel<true> {
    fn run<F: Real>(&self, input: &[F], layout: TimeLayout) -> [Vec<F>; 2] {
        let fired = spike_fire::<F, true>(input, layout, self.0, None);
        [fired.spikes, fired.surrogate]
    }
}

impl CarryKernel for SpikeKernel<false> {
    fn run<F: Real>(&self, input: &[F], state: &[F], layout: TimeLayout) -> (Vec<F>, Vec<F>) {
        let fired = spike_fire::<F, false>(input, layout, self.0, Some(state));
        (fired.spikes, fired.state)
    }
}

/// The PSP filter and spike generation in one pass from a carried state, for streaming: the
/// input `x` is a synapse's output before its PSP filter, `y = ε ∗ x` the potential (see
/// [`psp_filter`]), and the spikes those of [`spike_fire`] on `y`. The state is `[B, 3, N]`:
/// the filter's traces `w`, `z` and the refractory response `r` (from rest when `carry` is
/// `None`; the returned state is then empty). The same arithmetic, in the same order, as
/// [`psp_filter_from`] then [`spike_fire`], without writing `y`.
pub fn psp_spike_from<F: Real>(
    x: &[F],
    layout: TimeLayout,
    tau_s: f64,
    params: SpikeParams,
    carry: Option<&[F]>,
) -> (Vec<F>, Vec<F>) {
    assert_eq!(
        x.len(),
        layout.len(),
        "psp_spike: buffer does not match {layout:?}"
    );
    let (carried, state) = Carried::new(carry, layout, 3);
    let mut spikes = Output::new(x.len());
    let psp = AlphaPsp::<F>::new(tau_s);
    let firing = Firing::<F>::new(params);
    let out = spikes.ptr();
    for_each_block(
        &layout,
        #[inline(always)]
        |block| {
            let mut local = None;
            // SAFETY: the block's own neurons (see `Carried::traces`).
            let [w, z, r] = unsafe { carried.traces(&block, &mut local) };
            for t in 0..layout.time {
                let offset = block.offset(&layout, t);
                let xs = &x[offset..offset + block.len];
                // SAFETY: in bounds (same range as `xs`), and only this block touches it.
                let ss = unsafe { out.slice(offset, block.len) };
                for ((((s, &x), w), z), r) in ss
                    .iter_mut()
                    .zip(xs)
                    .zip(w.iter_mut())
                    .zip(z.iter_mut())
                    .zip(r.iter_mut())
                {
                    s.write(firing.step(r, psp.step(w, z, x)).1);
                }
            }
        },
    );
    // SAFETY: the blocks cover every element at every step.
    (unsafe { spikes.assume_written() }, state)
}

/// A raw pointer into a buffer whose disjoint parts blocks update in place.
#[derive(Clone, Copy)]
struct SharedMut<F>(*mut F);

// SAFETY: every block touches only its own elements (disjoint ranges), so sharing the base
// pointer across threads never creates overlapping accesses.
unsafe impl<F: Send> Send for SharedMut<F> {}
unsafe impl<F: Send> Sync for SharedMut<F> {}

impl<F> SharedMut<F> {
    /// `len` elements from `offset`.
    ///
    /// # Safety
    /// `offset + len` is within the buffer, the buffer outlives `'a`, and no other live slice
    /// covers these elements.
    unsafe fn slice<'a>(self, offset: usize, len: usize) -> &'a mut [F] {
        // SAFETY: guaranteed by the caller.
        unsafe { core::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}

/// [`psp_spike_from`] as a [`CarryKernel`].
#[derive(Clone, Copy, Debug)]
pub struct PspSpikeKernel {
    /// PSP time constant τs (steps).
    pub tau_s: f64,
    /// The spike parameters.
    pub params: SpikeParams,
}

impl CarryKernel for PspSpikeKernel {
    fn run<F: Real>(&self, input: &[F], state: &[F], layout: TimeLayout) -> (Vec<F>, Vec<F>) {
        psp_spike_from(input, layout, self.tau_s, self.params, Some(state))
    }
}

impl CpuKernel<1> for PspSpikeKernel {
    /// From rest.
    fn run<F: Real>(&self, input: &[F], layout: TimeLayout) -> [Vec<F>; 1] {
        [psp_spike_from(input, layout, self.tau_s, self.params, None).0]
    }
}

/// SLAYER's surrogate derivative `ρ(u) = (1/α)·exp(−|u − θ|/β)` (eq. 10).
#[derive(Clone, Copy)]
pub(crate) struct Surrogate<F> {
    theta: F,
    inv_alpha: F,
    neg_inv_beta: F,
}

impl<F: Real> Surrogate<F> {
    pub(crate) fn new(params: SpikeParams) -> Self {
        Self {
            theta: F::from_f64(params.theta),
            inv_alpha: F::from_f64(1.0 / params.alpha),
            neg_inv_beta: F::from_f64(-1.0 / params.beta),
        }
    }

    #[inline(always)]
    pub(crate) fn at(self, u: F) -> F {
        self.inv_alpha * ((u - self.theta).abs() * self.neg_inv_beta).exp_nonpositive()
    }
}

/// What [`spike_fire`] returns.
pub struct Fired<F> {
    /// The spikes (0 or 1).
    pub spikes: Vec<F>,
    /// `ρ(u[t])` of every step when asked for, else empty.
    pub surrogate: Vec<F>,
    /// The refractory response after the last step (`[B, 1, N]`) when a state was carried in,
    /// else empty.
    pub state: Vec<F>,
}

/// Spike generation with the refractory response for a contiguous `[B, T, N]` buffer; see
/// [`crate::functional::spike`]. Returns the spikes, when `SURROGATE` the surrogate
/// derivative `ρ(u[t])` of every step, and with `carry` (the refractory response `[B, 1, N]`
/// after the previous chunk; zero when `None`) the refractory response after the last step.
pub fn spike_fire<F: Real, const SURROGATE: bool>(
    v: &[F],
    layout: TimeLayout,
    params: SpikeParams,
    carry: Option<&[F]>,
) -> Fired<F> {
    assert_eq!(
        v.len(),
        layout.len(),
        "spike_fire: buffer does not match {layout:?}"
    );
    let (carried, state) = Carried::new(carry, layout, 1);
    let mut spikes = Output::new(v.len());
    let mut surrogate = Output::new(if SURROGATE { v.len() } else { 0 });
    let firing = Firing::<F>::new(params);
    let surrogate_at = Surrogate::<F>::new(params);
    let spikes_out = spikes.ptr();
    let surrogate_out = surrogate.ptr();
    for_each_block(
        &layout,
        #[inline(always)]
        |block| {
            let mut local = None;
            // SAFETY: the block's own neurons (see `Carried::traces`).
            let [refractory] = unsafe { carried.traces(&block, &mut local) };
            for t in 0..layout.time {
                let offset = block.offset(&layout, t);
                let vs = &v[offset..offset + block.len];
                // SAFETY: in bounds (same range as `vs`), and only this block touches it.
                let ss = unsafe { spikes_out.slice(offset, block.len) };
                if SURROGATE {
                    // SAFETY: as above; `surrogate` has the same length as `spikes`.
                    let rs = unsafe { surrogate_out.slice(offset, block.len) };
                    for (((s, rho), &v), r) in
                        ss.iter_mut().zip(rs).zip(vs).zip(refractory.iter_mut())
                    {
                        let (u, fired) = firing.step(r, v);
                        s.write(fired);
                        rho.write(surrogate_at.at(u));
                    }
                } else {
                    for ((s, &v), r) in ss.iter_mut().zip(vs).zip(refractory.iter_mut()) {
                        s.write(firing.step(r, v).1);
                    }
                }
            }
        },
    );
    // SAFETY: the blocks cover every element at every step (`blocks_cover_every_element_once`),
    // and write the surrogate wherever they write spikes when `SURROGATE` (its length is 0
    // otherwise).
    unsafe {
        Fired {
            spikes: spikes.assume_written(),
            surrogate: surrogate.assume_written(),
            state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_f32_matches_f64_exp() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let x = -87.0 + 87.0 * i as f64 / 200_000.0;
            let got = exp_f32(x as f32) as f64;
            let want = (x as f32 as f64).exp();
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(-1000.0) <= 1.7e-38);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn psp_moment_is_the_mean_square_of_the_filtered_buffer() {
        // [B = 2, T = 7, C = 3, S = 350]: blocks that cross channel boundaries.
        let layout = TimeLayout {
            batch: 2,
            time: 7,
            neurons: 3 * 350,
        };
        let x: Vec<f64> = (0..layout.len())
            .map(|i| f64::from(u8::from((i * 7919) % 13 == 0)))
            .collect();
        let a = psp_filter(&x, layout, 4.0, false);
        let per_sample = psp_moment(Source::Values(&x), layout, 4.0, true, 3);
        let per_channel = psp_moment(Source::Values(&x), layout, 4.0, false, 3);
        for b in 0..2 {
            let span = &a[b * 7 * 1050..(b + 1) * 7 * 1050];
            let want = span.iter().map(|v| v * v).sum::<f64>() / span.len() as f64;
            assert!((per_sample[b] - want).abs() < 1e-14, "{b}");
        }
        for c in 0..3 {
            let values: Vec<f64> = (0..14)
                .flat_map(|bt| a[bt * 1050 + c * 350..][..350].to_vec())
                .collect();
            let want = values.iter().map(|v| v * v).sum::<f64>() / values.len() as f64;
            assert!((per_channel[c] - want).abs() < 1e-14, "{c}");
        }
    }

    #[test]
    fn psp_moment_backward_is_the_adjoint_of_the_moment() {
        // Central differences of psp_moment in f64 (exact for a quadratic up to rounding, about
        // 1e-10 here), per sample and per channel.
        let layout = TimeLayout {
            batch: 2,
            time: 6,
            neurons: 3 * 200,
        };
        let x: Vec<f64> = (0..layout.len())
            .map(|i| ((i * 7919) % 17) as f64 / 17.0)
            .collect();
        for per_sample in [true, false] {
            let groups = if per_sample { 2 } else { 3 };
            let grad: Vec<f64> = (0..groups).map(|g| 0.7 - 1.3 * g as f64).collect();
            let dx = psp_moment_backward(Source::Values(&x), layout, 3.0, per_sample, 3, &grad);
            let loss = |x: &[f64]| -> f64 {
                psp_moment(Source::Values(x), layout, 3.0, per_sample, 3)
                    .iter()
                    .zip(&grad)
                    .map(|(m, g)| m * g)
                    .sum()
            };
            for i in [0, 5, 299, 300, 601, 1500, layout.len() - 1] {
                let h = 1e-6;
                let (mut up, mut down) = (x.clone(), x.clone());
                up[i] += h;
                down[i] -= h;
                let want = (loss(&up) - loss(&down)) / (2.0 * h);
                assert!(
                    (dx[i] - want).abs() < 1e-9,
                    "per_sample {per_sample}, {i}: {} vs {want}",
                    dx[i]
                );
            }
        }
    }

    /// Spikes given as bits: the same moment and gradient as the same spikes given as floats.
    #[test]
    fn psp_moment_backward_reads_bits_like_values() {
        let layout = TimeLayout {
            batch: 3,
            time: 9,
            neurons: 2 * 300 + 2 * 7,
        };
        let x: Vec<f32> = (0..layout.len())
            .map(|i| f32::from(u8::from((i * 7919) % 23 == 0)))
            .collect();
        let bits = crate::kernels::event::pack_bits(&x);
        for per_sample in [true, false] {
            let grad: Vec<f32> = if per_sample {
                vec![0.3, -1.0, 2.0]
            } else {
                vec![0.5, -0.25]
            };
            let from_values =
                psp_moment_backward(Source::Values(&x), layout, 5.0, per_sample, 2, &grad);
            let from_bits = psp_moment_backward(
                Source::bits(&bits, x.len()),
                layout,
                5.0,
                per_sample,
                2,
                &grad,
            );
            assert_eq!(from_values, from_bits, "per_sample {per_sample}");
            // The moment itself, the same way.
            let from_values = psp_moment(Source::Values(&x), layout, 5.0, per_sample, 2);
            let from_bits = psp_moment(
                Source::<f32>::bits(&bits, x.len()),
                layout,
                5.0,
                per_sample,
                2,
            );
            assert!(from_values.iter().all(|&m| m > 0.0), "silent test spikes");
            assert_eq!(from_values, from_bits, "moment, per_sample {per_sample}");
        }
    }

    #[test]
    fn blocks_cover_every_element_once() {
        // Neuron counts around the block size and the parallel threshold.
        for &(batch, time, neurons) in &[(1, 1, 1), (3, 2, BLOCK + 1), (2, 70, 3 * BLOCK - 5)] {
            let layout = TimeLayout {
                batch,
                time,
                neurons,
            };
            let counts = std::sync::Mutex::new(vec![0u32; layout.len()]);
            for_each_block(
                &layout,
                #[inline(always)]
                |block| {
                    let mut counts = counts.lock().unwrap();
                    for t in 0..time {
                        let offset = block.offset(&layout, t);
                        for c in &mut counts[offset..offset + block.len] {
                            *c += 1;
                        }
                    }
                },
            );
            assert!(counts.into_inner().unwrap().iter().all(|&c| c == 1));
        }
    }
}
