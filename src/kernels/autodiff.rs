//! [`SnnBackend`] for Burn's autodiff backend: the hand-written backward passes.
//!
//! - PSP filter: linear, so its backward is its adjoint, the same filter run backwards in time
//!   on the output gradient (exact; nothing of the forward pass is kept).
//! - Spike: SLAYER's surrogate (eq. 10), `∂L/∂v[t] = ρ(u[t])·∂L/∂s[t]`. The forward kernel
//!   writes `ρ(u[t])` beside the spikes, and the backward pass is one multiplication. No gradient
//!   flows through the refractory feedback.

use super::SnnBackend;
use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind, unary},
};
use burn::backend::tensor::FloatTensor;

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
