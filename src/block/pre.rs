use super::ConvNorm;
use super::residual::shortcut;
use crate::functional::Clock;
use crate::neuron::Func;
use burn::module::Module;
use burn::tensor::Tensor;

/// Pre-activation residual block (eq. 8): `h_{l+1} = P(h) + Conv(Func(Conv(Func(h))))`.
///
/// Where:
/// - `h` is a membrane potential (the residual stream carries potentials);
/// - Func is Spike → PSP → Norm (Fig. 3c), Conv a convolution synapse (with BN / BNTT / tdBN
///   after it for those baselines);
/// - `P` is the identity, or a 1×1 convolution with the block's stride (unit weight scale) when
///   the width or the resolution changes (the projection shortcut).
///
/// Built by [`ResidualBlockConfig`](super::ResidualBlockConfig) with [`BlockKind::Pre`](super::BlockKind::Pre).
#[derive(Module, Debug)]
pub struct PreActivationBlock {
    /// First Func.
    pub func1: Func,
    /// First convolution (carries the stride).
    pub conv1: ConvNorm,
    /// Second Func.
    pub func2: Func,
    /// Second convolution.
    pub conv2: ConvNorm,
    /// Projection shortcut, when shapes change.
    pub shortcut: Option<ConvNorm>,
}

impl PreActivationBlock {
    /// Applies the block.
    ///
    /// # Shapes
    ///
    /// - `h`: `[batch, time, channels_in, height, width]`
    /// - output: `[batch, time, channels_out, height / stride, width / stride]`
    pub fn forward(&self, h: Tensor<5>) -> Tensor<5> {
        self.forward_in(h, &mut Clock::Whole)
    }

    /// [`forward`](Self::forward) on `clock`.
    pub(crate) fn forward_in(&self, h: Tensor<5>, clock: &mut Clock) -> Tensor<5> {
        let device = h.device();
        let a1 = self
            .func1
            .forward_presynaptic_in(h.clone(), self.conv1.input(&device), clock);
        // The second Func's spikes straight from the first synapse: one op on the event path.
        let s1 = self
            .conv1
            .forward_potential(a1, clock)
            .spikes(clock, &self.func2.srm);
        let a2 = self
            .func2
            .presynaptic_in(s1, true, self.conv2.input(&device), clock);
        let short = shortcut(self.shortcut.as_ref(), h, clock);
        short + self.conv2.forward_presynaptic_in(a2, clock)
    }

    /// [`forward`](Self::forward) and the firing rates of both Funcs, in order.
    pub fn forward_with_rates(&self, h: Tensor<5>) -> (Tensor<5>, [Tensor<1>; 2]) {
        let device = h.device();
        let s1 = self.func1.spikes(h.clone());
        let r1 = s1.clone().mean().detach();
        let a1 = self.func1.presynaptic(s1, true, self.conv1.input(&device));
        let s2 = self.func2.spikes(self.conv1.forward_presynaptic(a1));
        let r2 = s2.clone().mean().detach();
        let a2 = self.func2.presynaptic(s2, true, self.conv2.input(&device));
        let out = shortcut(self.shortcut.as_ref(), h, &mut Clock::Whole)
            + self.conv2.forward_presynaptic(a2);
        (out, [r1, r2])
    }
}
