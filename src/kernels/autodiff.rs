//! [`SnnBackend`] for Burn's autodiff backend: the hand-written backward passes.
//!
//! - PSP filter: linear, so its backward is its adjoint, the same filter run backwards in time
//!   on the output gradient (exact; nothing of the forward pass is kept).
//! - Spike: SLAYER's surrogate (eq. 10), `∂L/∂v[t] = ρ(u[t])·∂L/∂s[t]`. The forward kernel
//!   writes `ρ(u[t])` beside the spikes, and the backward pass is one multiplication. No gradient
//!   flows through the refractory feedback.

use super::{EventBackend, SnnBackend};
use burn::backend::TensorMetadata;
use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind, unary},
};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::{FloatDType, Shape};

/// Backward of the PSP filter: the filter in the other time direction.
#[derive(Debug)]
struct PspFilterBackward;

impl<B: SnnBackend> Backward<B, 1> for PspFilterBackward {
    /// `(τs, reverse)` of the forward call.
    type State = (f64, bool);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (tau_s, reverse) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::psp_filter(grad, tau_s, !reverse)
        });
    }
}

/// Backward of spike generation: the output gradient times the saved surrogate.
#[derive(Debug)]
struct SpikeBackward;

impl<B: SnnBackend> Backward<B, 1> for SpikeBackward {
    /// `ρ(u[t])` of every step.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let surrogate = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::float_mul(grad, surrogate)
        });
    }
}

impl<B: SnnBackend, C: CheckpointStrategy> SnnBackend for Autodiff<B, C> {
    fn psp_filter(x: FloatTensor<Self>, tau_s: f64, reverse: bool) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        let y = B::psp_filter(x, tau_s, reverse);
        match PspFilterBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((tau_s, reverse), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn spike_fire(
        v: FloatTensor<Self>,
        theta: f64,
        tau_r: f64,
        alpha: f64,
        beta: f64,
    ) -> FloatTensor<Self> {
        let (v, node) = v.into_parts();
        match SpikeBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (spikes, surrogate) = B::spike_fire_surrogate(v, theta, tau_r, alpha, beta);
                prep.finish(surrogate, spikes)
            }
            // Inference: the surrogate is never needed, so it is never computed.
            OpsKind::UnTracked(prep) => prep.finish(B::spike_fire(v, theta, tau_r, alpha, beta)),
        }
    }

    fn spike_fire_surrogate(
        v: FloatTensor<Self>,
        theta: f64,
        tau_r: f64,
        alpha: f64,
        beta: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (v, node) = v.into_parts();
        let (spikes, surrogate) = B::spike_fire_surrogate(v, theta, tau_r, alpha, beta);
        let surrogate_out = FloatTensor::<Self>::new(surrogate.clone());
        let spikes = match SpikeBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(surrogate, spikes),
            OpsKind::UnTracked(prep) => prep.finish(spikes),
        };
        (spikes, surrogate_out)
    }
}

/// A tensor kept for a backward pass: as it is, or, when it holds only 0 and 1 (spikes), as
/// bits ([`EventBackend::pack_spikes`]) with its shape and float type.
#[derive(Clone, Debug)]
enum Kept<B: EventBackend> {
    Float(FloatTensor<B>),
    Bits(IntTensor<B>, Shape, FloatDType),
}

impl<B: EventBackend> Kept<B> {
    fn new(x: FloatTensor<B>, binary: bool) -> Self {
        if binary {
            let (shape, dtype) = (x.shape(), x.dtype());
            Self::Bits(B::pack_spikes(x), shape, dtype.into())
        } else {
            Self::Float(x)
        }
    }

    fn restore(self) -> FloatTensor<B> {
        match self {
            Self::Float(x) => x,
            Self::Bits(bits, shape, dtype) => B::unpack_spikes(bits, shape, dtype),
        }
    }
}

/// Backward of the event-driven convolution `y[b, t] = scale[b]·conv2d(x[b, t], W)`:
///
/// - `∂L/∂x[b] = scale[b]·conv2dᵀ(δ[b], W)`: the dense transposed convolution (the output
///   gradient is dense);
/// - `∂L/∂W = Σ_b scale[b]·correlate(x[b], δ[b])`: event-driven, from the kept input;
/// - `∂L/∂scale[b] = Σ x[b]·conv2dᵀ(δ[b], W)`.
///
/// Keeps the input (as bits for spikes), the weight and the scale of the forward call.
#[derive(Debug)]
struct EventConvBackward;

impl<B: EventBackend> Backward<B, 3> for EventConvBackward {
    /// `(x, weight, scale, stride, padding)`.
    type State = (Kept<B>, FloatTensor<B>, FloatTensor<B>, usize, usize);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight, node_scale] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, weight, scale, stride, padding) = ops.state;
        let x = x.restore();
        if node_x.is_some() || node_scale.is_some() {
            let (x_grad, scale_grad) = B::event_conv2d_input_grad(
                x.clone(),
                weight.clone(),
                grad.clone(),
                scale.clone(),
                stride,
                padding,
                node_scale.is_some(),
            );
            if let Some(node) = node_scale {
                grads.register::<B>(node.id, scale_grad);
            }
            if let Some(node) = node_x {
                grads.register::<B>(node.id, x_grad);
            }
        }
        if let Some(node) = node_weight {
            let weight_grad = B::event_conv2d_weight_grad(x, weight, grad, scale, stride, padding);
            grads.register::<B>(node.id, weight_grad);
        }
    }
}

/// Backward of the pooled PSP's second moment `m[g] = mean_g(a²)`, `a = Pool(ε ∗ x)`:
/// `∂L/∂x = εᵀ ∗ Poolᵀ(2a·∂L/∂m[g] / n_g)`, with `a` recomputed from the kept input.
#[derive(Debug)]
struct PspMomentBackward;

impl<B: EventBackend> Backward<B, 1> for PspMomentBackward {
    /// `(x, τs, pool, per_sample)`.
    type State = (Kept<B>, f64, usize, bool);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, tau_s, pool, per_sample) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::psp_moment_backward(x.restore(), grad, tau_s, pool, per_sample)
        });
    }
}

impl<B: EventBackend, C: CheckpointStrategy> EventBackend for Autodiff<B, C> {
    fn event_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        stride: usize,
        padding: usize,
        binary: bool,
    ) -> FloatTensor<Self> {
        let (x, node_x) = x.into_parts();
        let (weight, node_weight) = weight.into_parts();
        let (scale, node_scale) = scale.into_parts();
        let y = B::event_conv2d(
            x.clone(),
            weight.clone(),
            scale.clone(),
            stride,
            padding,
            binary,
        );
        match EventConvBackward
            .prepare::<C>([node_x, node_weight, node_scale])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let kept = Kept::new(x, binary);
                prep.finish((kept, weight, scale, stride, padding), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn event_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let weight_grad = B::event_conv2d_weight_grad(
            x.into_primitive(),
            weight.into_primitive(),
            grad.into_primitive(),
            scale.into_primitive(),
            stride,
            padding,
        );
        FloatTensor::<Self>::new(weight_grad)
    }

    fn event_conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        stride: usize,
        padding: usize,
        scale_grad: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (x_grad, sums) = B::event_conv2d_input_grad(
            x.into_primitive(),
            weight.into_primitive(),
            grad.into_primitive(),
            scale.into_primitive(),
            stride,
            padding,
            scale_grad,
        );
        (
            FloatTensor::<Self>::new(x_grad),
            FloatTensor::<Self>::new(sums),
        )
    }

    fn psp_moment_backward(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        tau_s: f64,
        pool: usize,
        per_sample: bool,
    ) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(B::psp_moment_backward(
            x.into_primitive(),
            grad.into_primitive(),
            tau_s,
            pool,
            per_sample,
        ))
    }

    fn pack_spikes(x: FloatTensor<Self>) -> IntTensor<Self> {
        B::pack_spikes(x.into_primitive())
    }

    fn unpack_spikes(bits: IntTensor<Self>, shape: Shape, dtype: FloatDType) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(B::unpack_spikes(bits, shape, dtype))
    }

    fn psp_moment(
        x: FloatTensor<Self>,
        tau_s: f64,
        pool: usize,
        per_sample: bool,
        binary: bool,
    ) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        let m = B::psp_moment(x.clone(), tau_s, pool, per_sample, binary);
        match PspMomentBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                prep.finish((Kept::new(x, binary), tau_s, pool, per_sample), m)
            }
            OpsKind::UnTracked(prep) => prep.finish(m),
        }
    }
}
