//! [`EventBackend`](super::EventBackend) for the CPU backends, and the CPU side of its
//! backward passes: the [`event`] loops on host memory through [`CpuHost`], or the backend's
//! dense convolution above the density threshold ([`EventConvOptions::dense_above`]).
//!
//! Inputs come as [`Kept`]: a float tensor, or spikes packed as bits, which the loops read
//! directly ([`Source`]); bits are unpacked to floats only for the dense fallbacks.

use super::cpu::{self, Real, TimeLayout};
use super::event::{self, ConvGeometry};
use super::host::{CpuHost, HostOp, run_in, run_kernel};
use super::input_grad;
use super::source::Source;
use super::{EventConvOptions, SnnBackend, SpikeParams, WeightLayout};
use burn::backend::{
    Backend, TensorMetadata,
    tensor::{Device, FloatTensor, IntTensor},
};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Shape};

/// An input of the CPU event ops: a float tensor, or a tensor of 0 and 1 (spikes) packed as
/// bits, one per element (what the backward passes keep of spikes).
#[derive(Clone, Debug)]
pub(crate) enum Kept<B: CpuHost> {
    Float(FloatTensor<B>),
    Bits { bits: IntTensor<B>, shape: Shape },
}

impl<B: CpuHost> Kept<B> {
    /// `x` as a backward pass keeps it: as bits when it holds only 0 and 1 (`binary`).
    pub(crate) fn keep(x: FloatTensor<B>, binary: bool) -> Self {
        if !binary {
            return Self::Float(x);
        }
        #[cfg(test)]
        tests::count_pack();
        let (shape, device) = (x.shape(), x.device());
        let bits = if x.dtype() == DType::F64 {
            B::read::<f64, _>(x, event::pack_bits)
        } else {
            B::read::<f32, _>(x, event::pack_bits)
        };
        Self::Bits {
            bits: B::write_bytes(bits, &device),
            shape,
        }
    }

    pub(crate) fn device(&self) -> Device<B> {
        match self {
            Self::Float(x) => x.device(),
            Self::Bits { bits, .. } => bits.device(),
        }
    }

    pub(crate) fn dims(&self) -> Vec<usize> {
        match self {
            Self::Float(x) => x.shape().to_vec(),
            Self::Bits { shape, .. } => shape.to_vec(),
        }
    }

    /// Runs `f` on the values, as `F`.
    fn read<F: Real, R>(self, f: impl FnOnce(Source<'_, F>) -> R) -> R {
        match self {
            Self::Float(x) => B::read::<F, _>(x, |v| f(Source::Values(v))),
            Self::Bits { bits, shape } => {
                let len = shape.num_elements();
                B::read_bytes(bits, |b| f(Source::bits(b, len)))
            }
        }
    }

    /// The fraction of nonzero values (estimated for large float tensors, counted for bits).
    pub(crate) fn density(&self) -> f64 {
        match self {
            Self::Float(x) if x.dtype() == DType::F64 => {
                self.clone().read::<f64, _>(event::source_density)
            }
            _ => self.clone().read::<f32, _>(event::source_density),
        }
    }

    /// The values as a float tensor of `dtype` (bits unpacked): for the dense fallbacks.
    fn into_float(self, dtype: DType) -> FloatTensor<B> {
        match self {
            Self::Float(x) => x,
            Self::Bits { bits, shape } => {
                let [y] = run_in(dtype, Unpack::<B> { bits, shape });
                y
            }
        }
    }
}

/// Bits to floats.
struct Unpack<B: CpuHost> {
    bits: IntTensor<B>,
    shape: Shape,
}

impl<B: CpuHost> HostOp<B, 1> for Unpack<B> {
    fn run<F: Real>(self) -> [FloatTensor<B>; 1] {
        let (device, len) = (self.bits.device(), self.shape.num_elements());
        let values = B::read_bytes(self.bits, |b| event::unpack_bits::<F>(b, len));
        [B::write(values, &self.shape, &device)]
    }
}

fn options(o: EventConvOptions) -> ConvOptions<2> {
    ConvOptions::new([o.stride; 2], [o.padding; 2], [1, 1], 1)
}

fn geometry(x: &[usize], weight: &[usize], o: EventConvOptions) -> ConvGeometry {
    ConvGeometry {
        channels_in: x[2],
        channels_out: weight[o.weight.channel_dims().0],
        height: x[3],
        width: x[4],
        kernel: weight[2],
        stride: o.stride,
        padding: o.padding,
    }
}

/// [`EventBackend::event_conv2d`](super::EventBackend::event_conv2d) on a CPU backend.
pub(crate) fn conv2d<B: CpuHost>(
    x: Kept<B>,
    weight: FloatTensor<B>,
    scale: FloatTensor<B>,
    o: EventConvOptions,
) -> FloatTensor<B> {
    let dims = x.dims();
    let dtype = weight.dtype();
    let [b, t, ci, h, w] = dims[..] else {
        unreachable!("checked by conv2d_events")
    };
    if !o.runs_events(|| x.density()) {
        #[cfg(test)]
        tests::count_path(false);
        let weight = match o.weight {
            WeightLayout::OutIn => weight,
            WeightLayout::InOut => B::float_swap_dims(weight, 0, 1),
        };
        let y = B::conv2d(
            B::float_reshape(x.into_float(dtype), [b * t, ci, h, w].into()),
            weight,
            None,
            options(o),
        );
        let [_, co, ho, wo]: [usize; 4] = y.shape().dims();
        return scale_samples::<B>(B::float_reshape(y, [b, t, co, ho, wo].into()), scale);
    }
    event_forward::<B>(x, weight, scale, o, Then::Output)
}

/// [`EventBackend::event_conv2d_spike`](super::EventBackend::event_conv2d_spike) on a CPU
/// backend: [`event::conv2d_spike`] (convolution, PSP filter and spikes in one pass) where the
/// event loops run, otherwise the dense [`conv2d`] and then the PSP filter and spike generation
/// in one pass ([`cpu::psp_spike_from`], from rest).
pub(crate) fn conv2d_spike<B: CpuHost>(
    x: Kept<B>,
    weight: FloatTensor<B>,
    scale: FloatTensor<B>,
    o: EventConvOptions,
    tau_s: f64,
    params: SpikeParams,
) -> FloatTensor<B> {
    if !o.runs_events(|| x.density()) {
        let z = conv2d::<B>(x, weight, scale, o.decided(false));
        let [spikes] = run_kernel::<B, _, 1>(z, &cpu::PspSpikeKernel { tau_s, params });
        return spikes;
    }
    event_forward::<B>(x, weight, scale, o, Then::Spikes((tau_s, params)))
}

/// The gradient of [`conv2d_spike`]'s spikes with respect to the synapse's output
/// `y = scale·conv2d(x, weight)`, for the gradient `grad` of the spikes, on the event path:
/// [`event::conv2d_spike`], which recomputes `y`, the potential and its surrogate from `x`.
pub(crate) fn conv2d_spike_grad<B: CpuHost>(
    x: Kept<B>,
    weight: FloatTensor<B>,
    scale: FloatTensor<B>,
    o: EventConvOptions,
    neuron: (f64, SpikeParams),
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    event_forward::<B>(x, weight, scale, o, Then::Grad(neuron, grad))
}

/// The event loops' forward pass ([`event::conv2d`] or [`event::conv2d_spike`]) on `x`.
fn event_forward<B: CpuHost>(
    x: Kept<B>,
    weight: FloatTensor<B>,
    scale: FloatTensor<B>,
    o: EventConvOptions,
    then: Then<B>,
) -> FloatTensor<B> {
    #[cfg(test)]
    tests::count_path(true);
    let dims = x.dims();
    let g = geometry(&dims, &weight.shape().to_vec(), o);
    let [y] = run_in(
        weight.dtype(),
        Forward::<B> {
            x,
            weight,
            layout: o.weight,
            scale,
            g,
            t: dims[1],
            then,
        },
    );
    y
}

/// What [`Forward`] computes after the convolution.
enum Then<B: CpuHost> {
    /// Nothing: the convolution's output.
    Output,
    /// The spikes of its PSP (τs, spike parameters).
    Spikes((f64, SpikeParams)),
    /// The gradient of those spikes with respect to the output, for the spikes' gradient.
    Grad((f64, SpikeParams), FloatTensor<B>),
}

/// [`event::conv2d`] of `x` by `weight`, scaled per sample, or [`event::conv2d_spike`].
struct Forward<B: CpuHost> {
    x: Kept<B>,
    weight: FloatTensor<B>,
    layout: WeightLayout,
    scale: FloatTensor<B>,
    g: ConvGeometry,
    t: usize,
    then: Then<B>,
}

impl<B: CpuHost> HostOp<B, 1> for Forward<B> {
    fn run<F: Real>(self) -> [FloatTensor<B>; 1] {
        let Self {
            x,
            weight,
            layout,
            scale,
            g,
            t,
            then,
        } = self;
        let device = weight.device();
        let b = scale.shape().num_elements();
        let run = |neuron: Option<(f64, SpikeParams)>, grad: Option<&[F]>| {
            x.read::<F, _>(|x| {
                B::read::<F, _>(weight, |w| {
                    B::read::<F, _>(scale, |s| match neuron {
                        Some(neuron) => event::conv2d_spike(x, w, layout, s, t, &g, neuron, grad),
                        None => event::conv2d(x, w, layout, s, t, &g),
                    })
                })
            })
        };
        let y = match then {
            Then::Output => run(None, None),
            Then::Spikes(neuron) => run(Some(neuron), None),
            Then::Grad(neuron, grad) => B::read::<F, _>(grad, |d| run(Some(neuron), Some(d))),
        };
        let shape = [b, t, g.channels_out, g.height_out(), g.width_out()];
        [B::write(y, &shape, &device)]
    }
}

/// The weight gradient of [`conv2d`] for the output gradient `grad`: event-driven (on the bits
/// of spikes) where `o` (decided by the forward pass) runs the event loops, the backend's dense
/// weight gradient otherwise.
pub(crate) fn conv2d_weight_grad<B: CpuHost>(
    x: Kept<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    scale: FloatTensor<B>,
    o: EventConvOptions,
) -> FloatTensor<B> {
    let dims = x.dims();
    let dtype = grad.dtype();
    let weight_dims = weight.shape().to_vec();
    let events = o.runs_events(|| x.density());
    #[cfg(test)]
    tests::count_path(events);
    if !events {
        let [b, t, ci, h, w] = dims[..] else {
            unreachable!("checked by conv2d_events")
        };
        let [_, _, co, ho, wo]: [usize; 5] = grad.shape().dims();
        let grad = scale_samples::<B>(grad, scale);
        return B::conv2d_weight_backward(
            B::float_reshape(x.into_float(dtype), [b * t, ci, h, w].into()),
            weight,
            B::float_reshape(grad, [b * t, co, ho, wo].into()),
            options(o),
        );
    }
    let g = geometry(&dims, &weight_dims, o);
    let [y] = run_in(
        dtype,
        WeightGrad::<B> {
            x,
            grad,
            scale,
            g,
            t: dims[1],
            shape: weight_dims,
        },
    );
    y
}

/// [`event::conv2d_weight_grad`].
struct WeightGrad<B: CpuHost> {
    x: Kept<B>,
    grad: FloatTensor<B>,
    scale: FloatTensor<B>,
    g: ConvGeometry,
    t: usize,
    shape: Vec<usize>,
}

impl<B: CpuHost> HostOp<B, 1> for WeightGrad<B> {
    fn run<F: Real>(self) -> [FloatTensor<B>; 1] {
        let Self {
            x,
            grad,
            scale,
            g,
            t,
            shape,
        } = self;
        let device = grad.device();
        let y = x.read::<F, _>(|x| {
            B::read::<F, _>(grad, |d| {
                B::read::<F, _>(scale, |s| event::conv2d_weight_grad(x, d, s, t, &g))
            })
        });
        [B::write(y, &shape, &device)]
    }
}

/// The gradients of `Σ grad · conv2d(x, weight)·scale` with respect to `x` and, when `x` is
/// given, with respect to `scale` (shape `[batch]`; zeros otherwise), `x` having the shape
/// `dims`. The output gradient is dense, so this is a dense transposed convolution:
/// [`input_grad::conv2d_input_grad`] for stride 1 (reading `x` as bits for spikes), the
/// backend's `conv2d_x_backward` otherwise.
pub(crate) fn conv2d_input_grad<B: CpuHost>(
    x: Option<Kept<B>>,
    dims: [usize; 5],
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    scale: FloatTensor<B>,
    o: EventConvOptions,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let dtype = grad.dtype();
    let g = geometry(&dims, &weight.shape().to_vec(), o);
    if !input_grad::supports(&g) {
        return dense_input_grad::<B>(
            x.map(|x| x.into_float(dtype)),
            dims,
            weight,
            grad,
            scale,
            o.stride,
            o.padding,
        );
    }
    let [dx, sums] = run_in(
        dtype,
        InputGrad::<B> {
            x,
            dims,
            weight,
            grad,
            scale,
            g,
        },
    );
    (dx, sums)
}

/// [`input_grad::conv2d_input_grad`].
struct InputGrad<B: CpuHost> {
    x: Option<Kept<B>>,
    dims: [usize; 5],
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    scale: FloatTensor<B>,
    g: ConvGeometry,
}

impl<B: CpuHost> HostOp<B, 2> for InputGrad<B> {
    fn run<F: Real>(self) -> [FloatTensor<B>; 2] {
        let Self {
            x,
            dims,
            weight,
            grad,
            scale,
            g,
        } = self;
        let device = grad.device();
        let run = |x: Option<Source<'_, F>>| {
            B::read::<F, _>(grad, |d| {
                B::read::<F, _>(weight, |w| {
                    B::read::<F, _>(scale, |s| {
                        input_grad::conv2d_input_grad(d, w, s, x, dims[1], &g)
                    })
                })
            })
        };
        let (dx, sums) = match x {
            Some(x) => x.read::<F, _>(|x| run(Some(x))),
            None => run(None),
        };
        let sums = sums.unwrap_or_else(|| vec![F::ZERO; dims[0]]);
        [
            B::write(dx, &dims, &device),
            B::write(sums, &[dims[0]], &device),
        ]
    }
}

/// [`EventBackend::psp_moment`](super::EventBackend::psp_moment) on a CPU backend, of `x` as
/// `dtype` values: without pooling one pass that never writes the PSP ([`cpu::psp_moment`],
/// reading spikes as bits where they are kept so), with pooling the tensor operations.
pub(crate) fn psp_moment<B: CpuHost + SnnBackend>(
    x: Kept<B>,
    dtype: DType,
    tau_s: f64,
    pool: usize,
    per_sample: bool,
) -> FloatTensor<B> {
    if pool > 1 {
        return psp_moment_of_tensors::<B>(x.into_float(dtype), tau_s, pool, per_sample);
    }
    let [m] = run_in(
        dtype,
        Moment::<B> {
            x,
            tau_s,
            per_sample,
        },
    );
    m
}

/// [`cpu::psp_moment`].
struct Moment<B: CpuHost> {
    x: Kept<B>,
    tau_s: f64,
    per_sample: bool,
}

impl<B: CpuHost> HostOp<B, 1> for Moment<B> {
    fn run<F: Real>(self) -> [FloatTensor<B>; 1] {
        let (dims, device) = (self.x.dims(), self.x.device());
        let groups = if self.per_sample { dims[0] } else { dims[2] };
        let layout = TimeLayout::from_dims(&dims);
        #[cfg(test)]
        tests::count_moment(matches!(self.x, Kept::Bits { .. }));
        let m = self
            .x
            .read::<F, _>(|x| cpu::psp_moment(x, layout, self.tau_s, self.per_sample, dims[2]));
        [B::write(m, &[groups], &device)]
    }
}

/// The gradient of [`psp_moment`] with respect to `x` for the gradient `grad` of its output:
/// without pooling [`cpu::psp_moment_backward`] (one pass, recompute and adjoint per block,
/// reading spikes as bits), with pooling the tensor operations.
pub(crate) fn psp_moment_backward<B: CpuHost + SnnBackend>(
    x: Kept<B>,
    grad: FloatTensor<B>,
    tau_s: f64,
    pool: usize,
    per_sample: bool,
) -> FloatTensor<B> {
    let dtype = grad.dtype();
    if pool > 1 {
        return psp_moment_backward_of_tensors::<B>(
            x.into_float(dtype),
            grad,
            tau_s,
            pool,
            per_sample,
        );
    }
    let [dx] = run_in(
        dtype,
        MomentBackward::<B> {
            x,
            grad,
            tau_s,
            per_sample,
        },
    );
    dx
}

/// [`cpu::psp_moment_backward`].
struct MomentBackward<B: CpuHost> {
    x: Kept<B>,
    grad: FloatTensor<B>,
    tau_s: f64,
    per_sample: bool,
}

impl<B: CpuHost> HostOp<B, 1> for MomentBackward<B> {
    fn run<F: Real>(self) -> [FloatTensor<B>; 1] {
        let Self {
            x,
            grad,
            tau_s,
            per_sample,
        } = self;
        let (dims, device): (_, Device<B>) = (x.dims(), grad.device());
        let layout = TimeLayout::from_dims(&dims);
        let dx = x.read::<F, _>(|x| {
            B::read::<F, _>(grad, |grad| {
                cpu::psp_moment_backward(x, layout, tau_s, per_sample, dims[2], grad)
            })
        });
        [B::write(dx, &dims, &device)]
    }
}

// The same operations from the backend's tensor operations: the dense fallbacks.

/// The input gradient of the event-driven convolution with the backend's dense transposed
/// convolution (`conv2d_x_backward`): `scale[b]·conv2dᵀ(grad[b], W)` and, when `x` (of shape
/// `dims`) is given, the scale gradient `Σ x[b]·conv2dᵀ(grad[b], W)` (zeros otherwise).
fn dense_input_grad<B: Backend>(
    x: Option<FloatTensor<B>>,
    dims: [usize; 5],
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    scale: FloatTensor<B>,
    stride: usize,
    padding: usize,
) -> (FloatTensor<B>, FloatTensor<B>) {
    use burn::tensor::ops::ConvOptions;
    let [b, t, ci, h, w] = dims;
    let [_, _, co, ho, wo]: [usize; 5] = grad.shape().dims();
    let x_grad = B::conv2d_x_backward(
        B::float_empty(
            [b * t, ci, h, w].into(),
            &grad.device(),
            grad.dtype().into(),
        ),
        weight,
        B::float_reshape(grad, [b * t, co, ho, wo].into()),
        ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1),
    );
    let x_grad = B::float_reshape(x_grad, [b, t * ci * h * w].into());
    let sums = match x {
        Some(x) => {
            let flat = B::float_reshape(x, [b, t * ci * h * w].into());
            let sums = B::float_sum_dim(B::float_mul(flat, x_grad.clone()), 1);
            B::float_reshape(sums, [b].into())
        }
        None => B::float_zeros([b].into(), &scale.device(), scale.dtype().into()),
    };
    let x_grad = B::float_reshape(x_grad, [b, t, ci, h, w].into());
    (scale_samples::<B>(x_grad, scale), sums)
}

/// [`EventBackend::psp_moment`](super::EventBackend::psp_moment) from the backend's tensor operations: the PSP, its square,
/// the mean (what the CPU backends run for pooled layers).
fn psp_moment_of_tensors<B: SnnBackend>(
    x: FloatTensor<B>,
    tau_s: f64,
    pool: usize,
    per_sample: bool,
) -> FloatTensor<B> {
    let (a, _) = pooled_psp::<B>(x, tau_s, pool);
    second_moment::<B>(B::float_mul(a.clone(), a), per_sample)
}

/// The gradient of [`psp_moment_of_tensors`] from the backend's tensor operations (what the CPU
/// backends run for pooled layers).
fn psp_moment_backward_of_tensors<B: SnnBackend>(
    x: FloatTensor<B>,
    grad: FloatTensor<B>,
    tau_s: f64,
    pool: usize,
    per_sample: bool,
) -> FloatTensor<B> {
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
fn pooled_psp<B: SnnBackend>(
    x: FloatTensor<B>,
    tau_s: f64,
    pool: usize,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
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
fn scale_samples<B: Backend>(x: FloatTensor<B>, scale: FloatTensor<B>) -> FloatTensor<B> {
    let dims = x.shape().to_vec();
    let rest: usize = dims[1..].iter().product();
    let scaled = B::float_mul(
        B::float_reshape(x, [dims[0], rest].into()),
        B::float_reshape(scale, [dims[0], 1].into()),
    );
    B::float_reshape(scaled, dims.into())
}

/// The mean of `squared` (`[batch, time, channels, ...]`) per sample or per channel (dim 2).
fn second_moment<B: Backend>(squared: FloatTensor<B>, per_sample: bool) -> FloatTensor<B> {
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

#[cfg(test)]
pub(crate) mod tests {
    use core::cell::Cell;

    thread_local! {
        /// How many event-driven convolutions of this thread ran the event loops, and how
        /// many the dense convolution.
        static PATHS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }

    pub(crate) fn count_path(events: bool) {
        PATHS.with(|p| {
            let (e, d) = p.get();
            p.set(if events { (e + 1, d) } else { (e, d + 1) });
        });
    }

    /// `(event loops, dense)` counts of this thread so far.
    pub(crate) fn paths() -> (usize, usize) {
        PATHS.with(Cell::get)
    }

    thread_local! {
        /// How many tensors this thread packed to bits.
        static PACKS: Cell<usize> = const { Cell::new(0) };
    }

    pub(crate) fn count_pack() {
        PACKS.with(|p| p.set(p.get() + 1));
    }

    /// Packings of this thread so far.
    pub(crate) fn packs() -> usize {
        PACKS.with(Cell::get)
    }

    thread_local! {
        /// `(from bits, from floats)`: how many statistics this thread computed from each.
        static MOMENTS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }

    pub(crate) fn count_moment(bits: bool) {
        MOMENTS.with(|m| {
            let (b, f) = m.get();
            m.set(if bits { (b + 1, f) } else { (b, f + 1) });
        });
    }

    /// `(from bits, from floats)` counts of this thread's statistics so far.
    pub(crate) fn moments() -> (usize, usize) {
        MOMENTS.with(Cell::get)
    }
}
