//! [`SnnBackend`] for Burn's autodiff backend: the hand-written backward passes.
//!
//! - PSP filter: linear, so its backward is its adjoint, the same filter run backwards in time
//!   on the output gradient (exact; nothing of the forward pass is kept).
//! - Spike: SLAYER's surrogate (eq. 10), `∂L/∂v[t] = ρ(u[t])·∂L/∂s[t]`. The forward kernel
//!   writes `ρ(u[t])` beside the spikes, and the backward pass is one multiplication. No gradient
//!   flows through the refractory feedback.

use super::{SnnBackend, SpikeParams};

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

    fn spike_fire(v: FloatTensor<Self>, params: SpikeParams) -> FloatTensor<Self> {
        let (v, node) = v.into_parts();
        match SpikeBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (spikes, surrogate) = B::spike_fire_surrogate(v, params);
                prep.finish(surrogate, spikes)
            }
            // Inference: the surrogate is never needed, so it is never computed.
            OpsKind::UnTracked(prep) => prep.finish(B::spike_fire(v, params)),
        }
    }

    fn spike_fire_surrogate(
        v: FloatTensor<Self>,
        params: SpikeParams,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (v, node) = v.into_parts();
        let (spikes, surrogate) = B::spike_fire_surrogate(v, params);
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

    fn psp_filter_carry(
        x: FloatTensor<Self>,
        state: FloatTensor<Self>,
        tau_s: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (y, state) = B::psp_filter_carry(x.into_primitive(), state.into_primitive(), tau_s);
        (FloatTensor::<Self>::new(y), FloatTensor::<Self>::new(state))
    }

    fn spike_fire_carry(
        v: FloatTensor<Self>,
        state: FloatTensor<Self>,
        params: SpikeParams,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (spikes, state) =
            B::spike_fire_carry(v.into_primitive(), state.into_primitive(), params);
        (
            FloatTensor::<Self>::new(spikes),
            FloatTensor::<Self>::new(state),
        )
    }

    fn psp_spike_carry(
        x: FloatTensor<Self>,
        state: FloatTensor<Self>,
        tau_s: f64,
        params: SpikeParams,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (spikes, state) =
            B::psp_spike_carry(x.into_primitive(), state.into_primitive(), tau_s, params);
        (
            FloatTensor::<Self>::new(spikes),
            FloatTensor::<Self>::new(state),
        )
    }
}

#[cfg(any(feature = "flex", feature = "ndarray"))]
mod events {
    //! [`EventBackend`] for autodiff over the CPU backends.

    use super::*;
    use crate::kernels::event_host::{self, Kept};
    use crate::kernels::host::CpuHost;
    use crate::kernels::{BackwardMemory, EventBackend, EventConvOptions};
    use burn::backend::TensorMetadata;
    use core::any::Any;
    use core::cell::RefCell;

    /// Backward of the event-driven convolution `y[b, t] = scale[b]·conv2d(x[b, t], W)`:
    ///
    /// - `∂L/∂x[b] = scale[b]·conv2dᵀ(δ[b], W)`: the dense transposed convolution (the output
    ///   gradient is dense);
    /// - `∂L/∂W = Σ_b scale[b]·correlate(x[b], δ[b])`: event-driven (reading the kept spikes as
    ///   bits) where the forward pass ran the event loops;
    /// - `∂L/∂scale[b] = Σ x[b]·conv2dᵀ(δ[b], W)`.
    ///
    /// Keeps the input (as bits for spikes), the weight, the scale and the options with the path
    /// the forward pass took.
    #[derive(Debug)]
    struct EventConvBackward;

    impl<B: EventBackend + CpuHost> Backward<B, 3> for EventConvBackward {
        type State = ConvState<B>;

        fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            let grad = grads.consume::<B>(&ops.node);
            conv_backward::<B>(ops, grad, grads);
        }
    }

    /// What the backward pass of the event-driven convolution keeps: `(x, weight, scale,
    /// options)`, the options with the path the forward pass took.
    type ConvState<B> = (Kept<B>, FloatTensor<B>, FloatTensor<B>, EventConvOptions);

    /// [`EventConvBackward`] for the output gradient `grad`.
    fn conv_backward<B: EventBackend + CpuHost>(
        ops: Ops<ConvState<B>, 3>,
        grad: FloatTensor<B>,
        grads: &mut Gradients,
    ) {
        let [node_x, node_weight, node_scale] = ops.parents;
        let (x, weight, scale, options) = ops.state;
        if node_x.is_some() || node_scale.is_some() {
            let dims: [usize; 5] = x.dims().try_into().expect("a rank-5 input");
            let (x_grad, scale_grad) = event_host::conv2d_input_grad::<B>(
                node_scale.is_some().then(|| x.clone()),
                dims,
                weight.clone(),
                grad.clone(),
                scale.clone(),
                options,
            );
            if let Some(node) = node_scale {
                grads.register::<B>(node.id, scale_grad);
            }
            if let Some(node) = node_x {
                grads.register::<B>(node.id, x_grad);
            }
        }
        if let Some(node) = node_weight {
            let weight_grad = event_host::conv2d_weight_grad::<B>(x, weight, grad, scale, options);
            grads.register::<B>(node.id, weight_grad);
        }
    }

    /// Backward of [`EventBackend::event_conv2d_spike`]: the gradient of the synapse's output
    /// `z`, `εᵀ ∗ (ρ(u)·∂L/∂s)`, then [`EventConvBackward`]'s on it.
    ///
    /// Where the forward pass ran the event loops, `z` is recomputed from the kept input (the
    /// spikes as bits) and `ρ(u)` from `z`, in one pass ([`event_host::conv2d_spike_grad`]);
    /// otherwise `ρ(u)` was kept.
    #[derive(Debug)]
    struct EventConvSpikeBackward;

    /// What [`EventConvSpikeBackward`] keeps besides the convolution's state.
    #[derive(Clone, Debug)]
    enum SpikeState<B: CpuHost> {
        /// Recompute `z`: `(τs, spike parameters)`.
        Recompute(f64, SpikeParams),
        /// `ρ(u)` of every neuron and step, and τs.
        Surrogate(FloatTensor<B>, f64),
    }

    impl<B: EventBackend + CpuHost> Backward<B, 3> for EventConvSpikeBackward {
        type State = (ConvState<B>, SpikeState<B>);

        fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
            let Ops {
                parents,
                node,
                state: (conv, spike),
            } = ops;
            let grad = grads.consume::<B>(&node);
            let grad = match spike {
                SpikeState::Recompute(tau_s, params) => {
                    let (x, weight, scale, options) = conv.clone();
                    event_host::conv2d_spike_grad::<B>(
                        x,
                        weight,
                        scale,
                        options,
                        (tau_s, params),
                        grad,
                    )
                }
                SpikeState::Surrogate(surrogate, tau_s) => {
                    B::psp_filter(B::float_mul(grad, surrogate), tau_s, true)
                }
            };
            let ops = Ops {
                parents,
                node,
                state: conv,
            };
            conv_backward::<B>(ops, grad, grads);
        }
    }

    /// Backward of the pooled PSP's second moment `m[g] = mean_g(a²)`, `a = Pool(ε ∗ x)`:
    /// `∂L/∂x = εᵀ ∗ Poolᵀ(2a·∂L/∂m[g] / n_g)`, with `a` recomputed from the kept input.
    #[derive(Debug)]
    struct PspMomentBackward;

    impl<B: EventBackend + CpuHost> Backward<B, 1> for PspMomentBackward {
        /// `(x, τs, pool, per_sample)`.
        type State = (Kept<B>, f64, usize, bool);

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            let (x, tau_s, pool, per_sample) = ops.state;
            unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                event_host::psp_moment_backward::<B>(x, grad, tau_s, pool, per_sample)
            });
        }
    }

    thread_local! {
        /// The last spikes this thread packed, by the autodiff node of the tensor they came from:
        /// a layer's statistic and its synapse take the same spike tensor and share one packed
        /// copy (node ids are unique in the process, so an entry never matches another tensor; it
        /// holds one layer's bits until the next packing replaces it).
        static PACKED: RefCell<Option<(u64, Box<dyn Any>)>> = const { RefCell::new(None) };
    }

    /// [`Kept::keep`], reusing the bits of the last call for the same node.
    fn keep_shared<B: CpuHost>(node: u64, x: FloatTensor<B>, binary: bool) -> Kept<B> {
        if !binary {
            return Kept::Float(x);
        }
        PACKED.with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some((id, kept)) = cache.as_ref()
                && *id == node
                && let Some(kept) = kept.downcast_ref::<Kept<B>>()
            {
                return kept.clone();
            }
            let kept = Kept::keep(x, true);
            *cache = Some((node, Box::new(kept.clone())));
            kept
        })
    }

    /// What an event-driven synapse's tracked forward pass reads and keeps of its input `x`
    /// (the tensor of autodiff node `id`): the spikes packed once (shared with the statistic of
    /// the same layer), the path decided once from them, and the input the forward loops read
    /// (the bits where the event loops run, the float spikes otherwise; the float spikes are
    /// dropped here when they are not read, before the output is allocated). Returns
    /// `(kept, input, options with the path decided, events)`: the backward pass runs the path
    /// of the forward pass on `kept`.
    fn event_input<B: CpuHost>(
        id: u64,
        x: FloatTensor<B>,
        binary: bool,
        options: EventConvOptions,
    ) -> (Kept<B>, Kept<B>, EventConvOptions, bool) {
        let kept = keep_shared::<B>(id, x.clone(), binary);
        let events = options.runs_events(|| kept.density());
        let input = match (&kept, events) {
            (Kept::Bits { .. }, true) => {
                drop(x);
                kept.clone()
            }
            _ => Kept::Float(x),
        };
        (kept, input, options.decided(events), events)
    }

    // `CpuHost` is crate-private: only the crate's CPU backends implement it, and `Autodiff` over
    // them is what the extension dispatches to.
    #[allow(private_bounds)]
    impl<B: EventBackend + CpuHost, C: CheckpointStrategy> EventBackend for Autodiff<B, C> {
        fn event_conv2d(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            scale: FloatTensor<Self>,
            options: EventConvOptions,
            binary: bool,
        ) -> FloatTensor<Self> {
            let (x, node_x) = x.into_parts();
            let (weight, node_weight) = weight.into_parts();
            let (scale, node_scale) = scale.into_parts();
            let id = node_x.id().value;
            match EventConvBackward
                .prepare::<C>([node_x, node_weight, node_scale])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let (kept, input, options, _) = event_input::<B>(id, x, binary, options);
                    let y = event_host::conv2d::<B>(input, weight.clone(), scale.clone(), options);
                    prep.finish((kept, weight, scale, options), y)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::event_conv2d(x, weight, scale, options, binary))
                }
            }
        }

        fn event_conv2d_spike(
            x: FloatTensor<Self>,
            weight: FloatTensor<Self>,
            scale: FloatTensor<Self>,
            options: EventConvOptions,
            binary: bool,
            tau_s: f64,
            params: SpikeParams,
        ) -> FloatTensor<Self> {
            let (x, node_x) = x.into_parts();
            let (weight, node_weight) = weight.into_parts();
            let (scale, node_scale) = scale.into_parts();
            let id = node_x.id().value;
            match EventConvSpikeBackward
                .prepare::<C>([node_x, node_weight, node_scale])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let (kept, input, options, events) = event_input::<B>(id, x, binary, options);
                    let (spikes, spike) = if events && options.memory == BackwardMemory::Recompute {
                        let spikes = event_host::conv2d_spike::<B>(
                            input,
                            weight.clone(),
                            scale.clone(),
                            options,
                            tau_s,
                            params,
                        );
                        (spikes, SpikeState::Recompute(tau_s, params))
                    } else {
                        let z =
                            event_host::conv2d::<B>(input, weight.clone(), scale.clone(), options);
                        let v = B::psp_filter(z, tau_s, false);
                        let (spikes, surrogate) = B::spike_fire_surrogate(v, params);
                        (spikes, SpikeState::Surrogate(surrogate, tau_s))
                    };
                    prep.finish(((kept, weight, scale, options), spike), spikes)
                }
                OpsKind::UnTracked(prep) => prep.finish(B::event_conv2d_spike(
                    x, weight, scale, options, binary, tau_s, params,
                )),
            }
        }

        fn psp_moment(
            x: FloatTensor<Self>,
            tau_s: f64,
            pool: usize,
            per_sample: bool,
            binary: bool,
        ) -> FloatTensor<Self> {
            let (x, node) = x.into_parts();
            let id = node.id().value;
            match PspMomentBackward
                .prepare::<C>([node])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    // The spikes packed once, here (this layer's synapse reuses the bits), and
                    // the moment read from the bits: a 32nd of the float tensor's traffic.
                    let dtype = x.dtype();
                    let kept = keep_shared::<B>(id, x.clone(), binary);
                    // (Pooling runs tensor operations on floats, which bits would unpack.)
                    let input = if pool == 1 {
                        kept.clone()
                    } else {
                        Kept::Float(x)
                    };
                    let m = event_host::psp_moment::<B>(input, dtype, tau_s, pool, per_sample);
                    prep.finish((kept, tau_s, pool, per_sample), m)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::psp_moment(x, tau_s, pool, per_sample, binary))
                }
            }
        }
    }
}
