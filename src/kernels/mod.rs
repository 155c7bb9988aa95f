//! Backend implementations of the temporal operations.
//!
//! [`SnnBackend`] is a Burn backend extension: one trait, implemented by every backend the
//! crate supports, reached from [`Tensor`](burn::tensor::Tensor) through Burn's `Dispatch`.
//!
//! | backend | implementation |
//! |---|---|
//! | Flex (feature `flex`) | `cpu` loops on the tensor's own storage, parallel over neurons |
//! | NdArray (feature `ndarray`) | the same `cpu` loops, through `TensorData` |
//! | CubeCL: wgpu (feature `wgpu`) and CUDA (feature `cuda`), also under Burn's fusion | `#[cube]` kernels, one thread per neuron (`kernels/cube/`) |
//! | Autodiff | the hand-written backward passes (`kernels/autodiff.rs`) |
//!
//! The CPU loops (`kernels/cpu.rs`) are the reference the accelerated kernels are tested against.
//!
//! [`EventBackend`] is a second extension, for the CPU backends (and autodiff over them) only:
//! the event-driven synapse ([`event`] loops on host memory, `kernels/event_host.rs`) with its
//! dense input gradient ([`input_grad`]), bit-packed spikes for the backward passes, and the PSP
//! statistic computed from spikes (`cpu::psp_moment`, `cpu::psp_moment_backward`). Its
//! reference is the backends' dense convolution and tensor operations
//! (`tests/event_parity_*.rs`).

pub(crate) mod cpu;
pub mod event;
pub mod input_grad;

mod autodiff;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
mod cube;
#[cfg(any(feature = "flex", feature = "ndarray"))]
mod event_host;
#[cfg(feature = "flex")]
mod flex;
#[cfg(feature = "ndarray")]
mod ndarray;

use burn::backend::{
    Backend, backend_extension,
    tensor::{FloatTensor, IntTensor},
};
use burn::tensor::{FloatDType, Shape};

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
    /// `r[t+1] = e^{−1/τr}·(r[t] − 2θ·s[t])`, `r[0] = 0`. `α` and `β` shape the surrogate
    /// gradient (see [`spike_fire_surrogate`](SnnBackend::spike_fire_surrogate)); backends
    /// without autodiff ignore them.
    #[fusion(dtype = v, shape = v)]
    fn spike_fire(
        v: FloatTensor<Self>,
        theta: f64,
        tau_r: f64,
        alpha: f64,
        beta: f64,
    ) -> FloatTensor<Self>;

    /// [`spike_fire`](SnnBackend::spike_fire) that also returns the SLAYER surrogate
    /// derivative `ρ(u[t]) = (1/α)·exp(−|u[t]−θ|/β)` of every step, for the backward pass.
    ///
    /// Returns `(spikes, surrogate)`, both shaped like `v`.
    #[fusion(meta = |v, _theta, _tau_r, _alpha, _beta| (v.clone(), v.clone()))]
    fn spike_fire_surrogate(
        v: FloatTensor<Self>,
        theta: f64,
        tau_r: f64,
        alpha: f64,
        beta: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// Event-driven synapse operations (convolution of sparse inputs), as a Burn backend extension
/// for the CPU backends. See [`event`] for the loops; other devices run the dense convolution
/// (`crate::functional::conv2d_events` decides).
///
/// Tensors: `x` is `[batch, time, channels_in, height, width]`, `weight`
/// `[channels_out, channels_in, k, k]` (square, odd or even `k`), `scale` `[batch]`; padding is
/// symmetric.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Autodiff
)]
pub trait EventBackend: SnnBackend {
    /// `y[b, t] = scale[b] · conv2d(x[b, t], weight)`, shape `[batch, time, channels_out, h', w']`.
    ///
    /// The CPU backends run [`event::conv2d`] when at most
    /// [`event::dense_above_density`] of `x` is nonzero, their dense convolution otherwise.
    /// `binary`: `x` holds only 0 and 1 (spikes), so that autodiff keeps it for the backward
    /// pass as one bit per element instead of a float.
    fn event_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        stride: usize,
        padding: usize,
        binary: bool,
    ) -> FloatTensor<Self>;

    /// Packs `x`, which holds only 0 and 1, into bits (`x[8j + i]` is bit `i` of byte `j`): a
    /// `u8` integer tensor of shape `[⌈n / 8⌉]`. What the backward passes keep of spikes.
    fn pack_spikes(x: FloatTensor<Self>) -> IntTensor<Self>;

    /// The inverse of [`pack_spikes`](EventBackend::pack_spikes): a float tensor of `shape`
    /// and `dtype`.
    fn unpack_spikes(bits: IntTensor<Self>, shape: Shape, dtype: FloatDType) -> FloatTensor<Self>;

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

    /// The gradient of [`psp_moment`](EventBackend::psp_moment) with respect to `x`, for the
    /// gradient `grad` (`[batch]` or `[channels]`) of its output: `εᵀ ∗ Poolᵀ(2a·grad[g] / n_g)`
    /// with `a` recomputed from `x`. Not differentiable.
    fn psp_moment_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        tau_s: f64,
        pool: usize,
        per_sample: bool,
    ) -> FloatTensor<Self>;

    /// The gradient of `Σ grad · event_conv2d(x, weight, scale)` with respect to `weight`
    /// (`weight` gives the shape only), event-driven like the forward pass. Not differentiable.
    fn event_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self>;

    /// The gradients of `Σ grad · event_conv2d(x, weight, scale)` with respect to `x` and,
    /// when `scale_grad`, with respect to `scale` (shape `[batch]`; zeros otherwise). The
    /// output gradient is dense, so this is a dense transposed convolution: on the CPU
    /// backends [`input_grad::conv2d_input_grad`] for stride 1, the backend's
    /// `conv2d_x_backward` otherwise. Not differentiable.
    fn event_conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        stride: usize,
        padding: usize,
        scale_grad: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// [`EventBackend::event_conv2d_input_grad`] with the backend's dense transposed convolution
/// (`conv2d_x_backward`): `scale[b]·conv2dᵀ(grad[b], W)` and `Σ x[b]·conv2dᵀ(grad[b], W)`.
pub(crate) fn dense_input_grad<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    scale: FloatTensor<B>,
    stride: usize,
    padding: usize,
    scale_grad: bool,
) -> (FloatTensor<B>, FloatTensor<B>) {
    use burn::backend::TensorMetadata;
    use burn::tensor::ops::ConvOptions;
    let [b, t, ci, h, w]: [usize; 5] = x.shape().dims();
    let [_, _, co, ho, wo]: [usize; 5] = grad.shape().dims();
    let x_grad = B::conv2d_x_backward(
        B::float_reshape(x.clone(), [b * t, ci, h, w].into()),
        weight,
        B::float_reshape(grad, [b * t, co, ho, wo].into()),
        ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1),
    );
    let x_grad = B::float_reshape(x_grad, [b, t * ci * h * w].into());
    let sums = if scale_grad {
        let flat = B::float_reshape(x, [b, t * ci * h * w].into());
        let sums = B::float_sum_dim(B::float_mul(flat, x_grad.clone()), 1);
        B::float_reshape(sums, [b].into())
    } else {
        B::float_zeros([b].into(), &scale.device(), scale.dtype().into())
    };
    let x_grad = B::float_reshape(x_grad, [b, t, ci, h, w].into());
    (scale_samples::<B>(x_grad, scale), sums)
}

/// [`EventBackend::psp_moment`] from the backend's tensor operations: the PSP, its square,
/// the mean (what the CPU backends run for pooled layers).
pub(crate) fn psp_moment_of_tensors<B: SnnBackend>(
    x: FloatTensor<B>,
    tau_s: f64,
    pool: usize,
    per_sample: bool,
) -> FloatTensor<B> {
    let (a, _) = pooled_psp::<B>(x, tau_s, pool);
    second_moment::<B>(B::float_mul(a.clone(), a), per_sample)
}

/// [`EventBackend::psp_moment_backward`] from the backend's tensor operations (what the CPU
/// backends run for pooled layers).
pub(crate) fn psp_moment_backward_of_tensors<B: SnnBackend>(
    x: FloatTensor<B>,
    grad: FloatTensor<B>,
    tau_s: f64,
    pool: usize,
    per_sample: bool,
) -> FloatTensor<B> {
    use burn::backend::TensorMetadata;
    let (a, unpooled) = pooled_psp::<B>(x, tau_s, pool);
    let dims = a.shape().to_vec();
    let n: usize = dims.iter().product();
    // The group's gradient, broadcast to a, times 2/n_g.
    let mut shape = vec![1; dims.len()];
    let group = if per_sample { 0 } else { 2 };
    shape[group] = dims[group];
    let count = n / dims[group];
    let grad = B::float_mul_scalar(
        B::float_reshape(grad, shape.into()),
        (2.0 / count as f64).into(),
    );
    let a_grad = B::float_mul(a, grad);
    let psp_grad = match unpooled {
        None => a_grad,
        Some(unpooled) => {
            let [b, t, c, h, w]: [usize; 5] = unpooled.shape().dims();
            let [_, _, _, h2, w2]: [usize; 5] = a_grad.shape().dims();
            let frames = B::avg_pool2d_backward(
                B::float_reshape(unpooled, [b * t, c, h, w].into()),
                B::float_reshape(a_grad, [b * t, c, h2, w2].into()),
                [pool; 2],
                [pool; 2],
                [0, 0],
                true,
                false,
            );
            B::float_reshape(frames, [b, t, c, h, w].into())
        }
    };
    B::psp_filter(psp_grad, tau_s, true)
}

/// `Pool_pool(ε ∗ x)` and, when `pool > 1`, the unpooled PSP (for the pooling's backward pass).
pub(crate) fn pooled_psp<B: SnnBackend>(
    x: FloatTensor<B>,
    tau_s: f64,
    pool: usize,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    use burn::backend::TensorMetadata;
    let a = B::psp_filter(x, tau_s, false);
    if pool == 1 {
        return (a, None);
    }
    let [b, t, c, h, w]: [usize; 5] = a.shape().dims();
    let frames = B::float_reshape(a.clone(), [b * t, c, h, w].into());
    let pooled = B::avg_pool2d(frames, [pool; 2], [pool; 2], [0, 0], true, false);
    let [_, _, h2, w2]: [usize; 4] = pooled.shape().dims();
    (B::float_reshape(pooled, [b, t, c, h2, w2].into()), Some(a))
}

/// `x · scale[b]` for `x` of shape `[batch, ...]` and `scale` of shape `[batch]`.
pub(crate) fn scale_samples<B: Backend>(
    x: FloatTensor<B>,
    scale: FloatTensor<B>,
) -> FloatTensor<B> {
    use burn::backend::TensorMetadata;
    let dims = x.shape().to_vec();
    let rest: usize = dims[1..].iter().product();
    let scaled = B::float_mul(
        B::float_reshape(x, [dims[0], rest].into()),
        B::float_reshape(scale, [dims[0], 1].into()),
    );
    B::float_reshape(scaled, dims.into())
}

/// The mean of `squared` (`[batch, time, channels, ...]`) per sample or per channel (dim 2).
pub(crate) fn second_moment<B: Backend>(
    squared: FloatTensor<B>,
    per_sample: bool,
) -> FloatTensor<B> {
    use burn::backend::TensorMetadata;
    let dims = squared.shape().to_vec();
    if per_sample {
        let rest: usize = dims[1..].iter().product();
        let flat = B::float_reshape(squared, [dims[0], rest].into());
        B::float_reshape(B::float_mean_dim(flat, 1), [dims[0]].into())
    } else {
        let spatial: usize = dims[3..].iter().product();
        let flat = B::float_reshape(squared, [dims[0] * dims[1], dims[2], spatial].into());
        let per_channel = B::float_mean_dim(B::float_mean_dim(flat, 2), 0);
        B::float_reshape(per_channel, [dims[2]].into())
    }
}

/// Implements [`SnnBackend`] for a CPU backend from its `apply(tensor, &kernel) -> outputs`
/// function, which runs a [`cpu::CpuKernel`] on the backend's tensor.
macro_rules! impl_snn_backend_on_cpu {
    ($backend:ty, $apply:path) => {
        impl $crate::kernels::SnnBackend for $backend {
            fn psp_filter(
                x: burn::backend::tensor::FloatTensor<Self>,
                tau_s: f64,
                reverse: bool,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                let kernel = $crate::kernels::cpu::PspKernel { tau_s, reverse };
                let [y] = $apply(x, &kernel);
                y
            }

            fn spike_fire(
                v: burn::backend::tensor::FloatTensor<Self>,
                theta: f64,
                tau_r: f64,
                alpha: f64,
                beta: f64,
            ) -> burn::backend::tensor::FloatTensor<Self> {
                let params = $crate::kernels::cpu::SpikeParams {
                    theta,
                    tau_r,
                    alpha,
                    beta,
                };
                let kernel = $crate::kernels::cpu::SpikeKernel::<false>(params);
                let [spikes] = $apply(v, &kernel);
                spikes
            }

            fn spike_fire_surrogate(
                v: burn::backend::tensor::FloatTensor<Self>,
                theta: f64,
                tau_r: f64,
                alpha: f64,
                beta: f64,
            ) -> (
                burn::backend::tensor::FloatTensor<Self>,
                burn::backend::tensor::FloatTensor<Self>,
            ) {
                let params = $crate::kernels::cpu::SpikeParams {
                    theta,
                    tau_r,
                    alpha,
                    beta,
                };
                let kernel = $crate::kernels::cpu::SpikeKernel::<true>(params);
                let [spikes, surrogate] = $apply(v, &kernel);
                (spikes, surrogate)
            }
        }
    };
}
#[cfg_attr(not(any(feature = "flex", feature = "ndarray")), allow(unused_imports))]
pub(crate) use impl_snn_backend_on_cpu;
