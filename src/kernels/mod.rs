//! Backend implementations of the temporal operations.
//!
//! Two Burn backend extensions, reached from [`Tensor`](burn::tensor::Tensor) through Burn's
//! `Dispatch` by the functions of [`crate::functional`]:
//!
//! - [`SnnBackend`]: the neuron's temporal operations (PSP filter, spike generation), on every
//!   backend the crate supports;
//! - [`EventBackend`]: the event-driven synapse and the PSP statistic computed from spikes, on
//!   the CPU backends (and autodiff over them).
//!
//! | backend | implementation |
//! |---|---|
//! | Flex (feature `flex`), NdArray (feature `ndarray`) | the `cpu`, `event` and `input_grad` loops (with `winograd` for `3×3` input gradients) on host memory, through the one host path `host` |
//! | CubeCL: wgpu (feature `wgpu`) and CUDA (feature `cuda`), also under Burn's fusion | `#[cube]` kernels, one thread per neuron (`kernels/cube/`) |
//! | Autodiff | the hand-written backward passes (`kernels/autodiff.rs`) |
//!
//! The CPU loops (`kernels/cpu.rs`) are the reference the accelerated kernels are tested
//! against; the event loops' reference is the backends' dense convolution and tensor
//! operations (`tests/event_parity_*.rs`).
//!
//! # Where an op lives
//!
//! Adding a temporal op means writing it in these places, and nowhere else:
//!
//! 1. **the trait method** here (`SnnBackend`, or `EventBackend` for a CPU-only op), its
//!    parameters as one struct ([`SpikeParams`], [`EventConvOptions`]);
//! 2. **its CPU kernel**: a loop over host slices (`cpu.rs`, `event.rs`), run through
//!    `host::run_in` (one float-type dispatch for every CPU op) and called from the one macro
//!    `host::impl_cpu_backend` that implements both traits for every CPU backend;
//! 3. **its cube kernel** and launch (`cube/kernel.rs`, `cube/launch.rs`), for `SnnBackend` ops;
//! 4. **its backward** (`autodiff.rs`).
//!
//! The streaming ops were added this way and show it: `psp_filter_carry`, `spike_fire_carry`
//! and the fused `psp_spike_carry` are each a trait method ([`SnnBackend`]), a CPU kernel
//! (`cpu::psp_filter_from`, `cpu::spike_fire`, `cpu::psp_spike_from`, run through
//! `host::run_carry`, the carried-state form of `run_in`), a cube kernel (`cube/kernel.rs`) and
//! an autodiff entry (`autodiff.rs`: untracked, streaming is inference), with their wrappers in
//! `functional/carry.rs`; no backend file changed. So was the fused training op
//! [`EventBackend::event_conv2d_spike`] (an event-driven synapse, the PSP filter and the
//! spikes): the trait method, its CPU kernel (`event::conv2d_spike`, run through `run_in` in
//! `event_host.rs`), no cube kernel (an `EventBackend` op is CPU-only), its backward
//! (`autodiff.rs`, which recomputes the synapse's output from the kept bits), and its wrapper
//! `functional::conv2d_events_spike`.
//!
//! The public wrapper in [`crate::functional`] checks shapes and calls the trait through
//! `Dispatch`. A new CPU backend implements the small trait `host::CpuHost` (read and write
//! host buffers) and invokes `impl_cpu_backend!` — nothing else (`flex.rs`, `ndarray.rs`).

mod addressable;
pub(crate) mod cpu;
pub(crate) mod event;
pub(crate) mod input_grad;
mod winograd;

mod autodiff;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod cube;
#[cfg(any(feature = "flex", feature = "ndarray"))]
pub(crate) mod event_host;
#[cfg(feature = "flex")]
mod flex;
#[cfg(any(feature = "flex", feature = "ndarray"))]
pub(crate) mod host;
#[cfg(feature = "ndarray")]
mod ndarray;
mod source;

use burn::backend::{Backend, backend_extension, tensor::FloatTensor};

/// The parameters of spike generation ([`SnnBackend::spike_fire`]), `SrmConfig`'s neuron
/// parameters as the kernels take them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpikeParams {
    /// Threshold θ.
    pub theta: f64,
    /// Refractory time constant τr (steps).
    pub tau_r: f64,
    /// Surrogate scale α (ρ peaks at 1/α).
    pub alpha: f64,
    /// Surrogate width β.
    pub beta: f64,
}

impl From<&crate::SrmConfig> for SpikeParams {
    fn from(cfg: &crate::SrmConfig) -> Self {
        Self {
            theta: cfg.theta,
            tau_r: cfg.tau_r,
            alpha: cfg.alpha,
            beta: cfg.beta,
        }
    }
}

/// Input density (fraction of nonzero inputs) above which the CPU backends run their dense
/// convolution instead of the event loops, by default ([`EventConvOptions::dense_above`]).
///
/// Measured with `cargo bench --bench event_conv` on a 2-core x86-64 machine (issue 12):
/// break-even is about 35% nonzeros for the forward pass and 45% for training, and the forward
/// pass (all that inference runs) decides.
pub const DENSE_ABOVE_DENSITY: f64 = 0.25;

/// How the weight of the event-driven convolution ([`EventBackend::event_conv2d`]) is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WeightLayout {
    /// Burn's `[channels_out, channels_in, k, k]`.
    #[default]
    OutIn,
    /// A 1×1 kernel stored `[channels_in, channels_out, 1, 1]`: a dense layer's `[inputs,
    /// outputs]` weight as Burn's `Linear` holds it, which is the layout the event loops read,
    /// so it is read without a copy. Inference only: autodiff refuses to track it.
    InOut,
}

impl WeightLayout {
    /// The dims of the weight that hold `(channels_out, channels_in)`.
    pub(crate) fn channel_dims(self) -> (usize, usize) {
        match self {
            WeightLayout::OutIn => (0, 1),
            WeightLayout::InOut => (1, 0),
        }
    }
}

/// What the backward pass of an event-driven synapse's spikes
/// ([`EventBackend::event_conv2d_spike`]) keeps from the forward pass.
///
/// In a saved config a missing value reads as the default, so that settings saved before this
/// option existed still load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BackwardMemory {
    /// The input (as bits for spikes), and the synapse's output recomputed in the backward
    /// pass: one event-driven convolution more per layer and step, and no float tensor the
    /// size of the layer's output kept from the forward pass to the backward pass. On Table 2's
    /// N-MNIST network at T = 300 (batch 10), a step's peak memory is about a third of
    /// [`Keep`](Self::Keep)'s (docs/benchmarks.md). The default.
    #[default]
    Recompute,
    /// The surrogate derivative `ρ(u)` of every neuron and step (one float each), as the
    /// separate ops keep it: no recomputation, more memory.
    Keep,
}

/// [`BackwardMemory`] as serde sees it: an optional unit variant, so that a missing field (a
/// config saved before the option existed) deserializes as `None`, the default.
#[derive(serde::Serialize, serde::Deserialize)]
enum BackwardMemoryName {
    Recompute,
    Keep,
}

impl serde::Serialize for BackwardMemory {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Some(match self {
            Self::Recompute => BackwardMemoryName::Recompute,
            Self::Keep => BackwardMemoryName::Keep,
        })
        .serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for BackwardMemory {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(
            match Option::<BackwardMemoryName>::deserialize(deserializer)? {
                None => Self::default(),
                Some(BackwardMemoryName::Recompute) => Self::Recompute,
                Some(BackwardMemoryName::Keep) => Self::Keep,
            },
        )
    }
}

/// The options of the event-driven convolution ([`EventBackend::event_conv2d`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventConvOptions {
    /// Stride (both dims).
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
    /// The input density (fraction of nonzero inputs) above which the backend's dense
    /// convolution runs instead of the event loops (same result up to rounding): `1.0` or more
    /// runs the event loops whatever the density, a negative value never. Default:
    /// [`DENSE_ABOVE_DENSITY`].
    pub dense_above: f64,
    /// The weight's layout. Default: [`WeightLayout::OutIn`].
    pub weight: WeightLayout,
    /// What the backward pass of [`EventBackend::event_conv2d_spike`] keeps where the event
    /// loops run. Default: [`BackwardMemory::Recompute`].
    pub memory: BackwardMemory,
}

impl EventConvOptions {
    /// Stride and padding, with the default density threshold.
    pub fn new(stride: usize, padding: usize) -> Self {
        Self {
            stride,
            padding,
            dense_above: DENSE_ABOVE_DENSITY,
            weight: WeightLayout::OutIn,
            memory: BackwardMemory::Recompute,
        }
    }

    /// With another [`memory`](Self::memory).
    pub fn with_memory(self, memory: BackwardMemory) -> Self {
        Self { memory, ..self }
    }

    /// With another [`weight`](Self::weight) layout.
    pub fn with_weight(self, weight: WeightLayout) -> Self {
        Self { weight, ..self }
    }

    /// With another [`dense_above`](Self::dense_above).
    pub fn with_dense_above(self, dense_above: f64) -> Self {
        Self {
            dense_above,
            ..self
        }
    }

    /// Whether the event loops run, `density` measuring the input only where the threshold
    /// does not decide alone.
    pub(crate) fn runs_events(&self, density: impl FnOnce() -> f64) -> bool {
        if self.dense_above >= 1.0 {
            true
        } else if self.dense_above < 0.0 {
            false
        } else {
            density() <= self.dense_above
        }
    }

    /// The same options with the path decided (what the backward pass keeps, so that it runs
    /// the path its forward pass ran without measuring the density again).
    pub(crate) fn decided(self, events: bool) -> Self {
        self.with_dense_above(if events { 1.0 } else { -1.0 })
    }
}

/// The temporal operations of the SRM neuron, as a Burn backend extension.
///
/// Every tensor has the layout `[batch, time, neurons...]`: dim 0 is the batch, dim 1 is time
/// (one step per index), and all remaining dims are independent neurons. Implementations may
/// assume that the public functions in [`crate::functional`] have already validated shapes and
/// parameters.
#[backend_extension(
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    Fusion: cfg(any(feature = "wgpu", feature = "cuda")),
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Autodiff
)]
pub trait SnnBackend: Backend {
    /// The causal alpha-PSP filter along dim 1, or its adjoint.
    ///
    /// `reverse == false`: `y[t] = Σ_{k=0..=t} ε(k)·x[t−k]` with `ε(k) = (k/τs)·e^{1−k/τs}`.
    /// `reverse == true`: `y[t] = Σ_{k=0..T−1−t} ε(k)·x[t+k]`, the adjoint (transpose) of the
    /// forward filter, which is its backward pass.
    #[fusion(dtype = x, shape = x)]
    fn psp_filter(x: FloatTensor<Self>, tau_s: f64, reverse: bool) -> FloatTensor<Self>;

    /// Spike generation with the refractory response; returns the spikes (0 or 1).
    ///
    /// Per neuron, in time order: `u[t] = v[t] + r[t]`, `s[t] = [u[t] ≥ θ]`,
    /// `r[t+1] = e^{−1/τr}·(r[t] − 2θ·s[t])`, `r[0] = 0` ([`SpikeParams`]). `α` and `β` shape
    /// the surrogate
    /// gradient (see [`spike_fire_surrogate`](SnnBackend::spike_fire_surrogate)); backends
    /// without autodiff ignore them.
    #[fusion(dtype = v, shape = v)]
    fn spike_fire(v: FloatTensor<Self>, params: SpikeParams) -> FloatTensor<Self>;

    /// [`spike_fire`](SnnBackend::spike_fire) that also returns the SLAYER surrogate
    /// derivative `ρ(u[t]) = (1/α)·exp(−|u[t]−θ|/β)` of every step, for the backward pass.
    ///
    /// Returns `(spikes, surrogate)`, both shaped like `v`.
    #[fusion(meta = |v, _params| (v.clone(), v.clone()))]
    fn spike_fire_surrogate(
        v: FloatTensor<Self>,
        params: SpikeParams,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// [`psp_filter`](SnnBackend::psp_filter) forward in time from a carried state, for
    /// streaming: `state` holds the filter's two traces per neuron after the previous chunk
    /// (`[batch, 2, neurons...]`, zeros at the start of a stream). Returns the output and the
    /// state after the chunk's last step; chunk after chunk, the outputs equal those of one
    /// call on the whole sequence (the same recursion, in the same order).
    ///
    /// Inference only: autodiff does not track it.
    #[fusion(meta = |x, state, _tau_s| (x.clone(), state.clone()))]
    fn psp_filter_carry(
        x: FloatTensor<Self>,
        state: FloatTensor<Self>,
        tau_s: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// [`spike_fire`](SnnBackend::spike_fire) from a carried refractory response `state`
    /// (`[batch, 1, neurons...]`, zeros at the start of a stream), for streaming. Returns the
    /// spikes and the refractory response after the chunk's last step; chunk after chunk, the
    /// spikes equal those of one call on the whole sequence.
    ///
    /// Inference only: autodiff does not track it.
    #[fusion(meta = |v, state, _params| (v.clone(), state.clone()))]
    fn spike_fire_carry(
        v: FloatTensor<Self>,
        state: FloatTensor<Self>,
        params: SpikeParams,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// [`psp_filter_carry`](SnnBackend::psp_filter_carry) then
    /// [`spike_fire_carry`](SnnBackend::spike_fire_carry) in one pass, for streaming: the
    /// spikes of the PSP of `x` (a synapse's output before its filter). `state` is
    /// `[batch, 3, neurons...]`: the filter's two traces, then the refractory response. Returns
    /// the spikes and the state after the chunk's last step; the spikes equal those of the two
    /// ops in turn.
    ///
    /// Inference only: autodiff does not track it.
    #[fusion(meta = |x, state, _tau_s, _params| (x.clone(), state.clone()))]
    fn psp_spike_carry(
        x: FloatTensor<Self>,
        state: FloatTensor<Self>,
        tau_s: f64,
        params: SpikeParams,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// Event-driven synapse operations (convolution of sparse inputs), as a Burn backend extension
/// for the CPU backends. Other devices run the dense convolution
/// ([`SynapseKernel`](crate::synapse::SynapseKernel) decides). The backward passes
/// (`autodiff.rs`) run on the CPU loops directly and keep spikes as bits.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Autodiff
)]
pub trait EventBackend: SnnBackend {
    /// `y[b, t] = scale[b] · conv2d(x[b, t], weight)`, shape `[batch, time, channels_out, h', w']`.
    ///
    /// `x` is `[batch, time, channels_in, height, width]`, `weight`
    /// `[channels_out, channels_in, k, k]` (square, odd or even `k`), `scale` `[batch]`;
    /// padding is symmetric. The event loops run when at most
    /// [`dense_above`](EventConvOptions::dense_above) of `x` is nonzero, the backend's dense
    /// convolution otherwise; the backward pass runs the path its forward pass ran.
    /// `binary`: `x` holds only 0 and 1 (spikes), so that autodiff keeps it for the backward
    /// pass as one bit per element instead of a float.
    fn event_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        options: EventConvOptions,
        binary: bool,
    ) -> FloatTensor<Self>;

    /// The spikes of an event-driven synapse's filtered output, as one op:
    /// `spike_fire(psp_filter(event_conv2d(x, weight, scale, options, binary), τs), params)`.
    ///
    /// For training: autodiff keeps what [`event_conv2d`](EventBackend::event_conv2d) keeps (the
    /// input as bits for spikes, the weight, the scale) and recomputes the synapse's output in
    /// the backward pass (one more event-driven convolution), where the two ops keep the
    /// surrogate `ρ(u)` of every neuron and step
    /// ([`spike_fire_surrogate`](SnnBackend::spike_fire_surrogate)) from the forward pass to the
    /// backward pass. On the CPU the convolution, the filter and the spikes run in one pass
    /// that never writes the synapse's output, forward and backward, with the arithmetic of the
    /// ops one after the other (the same spikes and gradients). Where the forward pass runs
    /// the dense convolution (above [`dense_above`](EventConvOptions::dense_above)), or with
    /// [`BackwardMemory::Keep`], it runs the ops one after the other and keeps the surrogate.
    fn event_conv2d_spike(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        options: EventConvOptions,
        binary: bool,
        tau_s: f64,
        params: SpikeParams,
    ) -> FloatTensor<Self>;

    /// The second moment of the pooled PSP of `x`: with `a = Pool_pool(ε ∗ x)`,
    /// `m[g] = mean over group g of a²`, the groups being the samples (`per_sample`, PSP-LN) or
    /// the channels of dim 2 (PSP-BN). Shape `[batch]` or `[channels]`.
    ///
    /// `x` is `[batch, time, channels, ...]` (rank 5 when `pool > 1`). Autodiff keeps only `x`
    /// (as bits when `binary`) and recomputes `a` in the backward pass.
    fn psp_moment(
        x: FloatTensor<Self>,
        tau_s: f64,
        pool: usize,
        per_sample: bool,
        binary: bool,
    ) -> FloatTensor<Self>;
}
