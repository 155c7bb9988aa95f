use super::ConvNorm;
use super::residual::shortcut;
use crate::functional::Clock;
use crate::neuron::Func;
use burn::module::Module;
use burn::tensor::Tensor;

/// Post-activation residual block (eq. 9): `h_{l+1} = Func(P(h) + Conv(Func(Conv(h))))`.
///
/// Where:
/// - `h` is the output of a Func (a normalized PSP);
/// - Func is Spike → PSP → Norm, Conv a convolution synapse (with BN / BNTT / tdBN after it
///   for those baselines);
/// - `P` is the identity, or a 1×1 convolution synapse with the block's stride (the network's
///   weight scale) when the width or the resolution changes.
///
/// Built by [`ResidualBlockConfig`](super::ResidualBlockConfig) with [`BlockKind::Post`](super::BlockKind::Post).
#[derive(Module, Debug)]
pub struct PostActivationBlock {
    /// First convolution (carries the stride).
    pub conv1: ConvNorm,
    /// Inner Func.
    pub func1: Func,
    /// Second convolution.
    pub conv2: ConvNorm,
    /// Outer Func, after the sum.
    pub func2: Func,
    /// Projection shortcut, when shapes change.
    pub shortcut: Option<ConvNorm>,
}

impl PostActivationBlock {
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
        let input = self.conv2.input(&h.device());
        let v1 = self.conv1.forward_in(h.clone(), clock);
        let a1 = self.func1.forward_presynaptic_in(v1, input, clock);
        let short = shortcut(self.shortcut.as_ref(), h, clock);
        let sum = short + self.conv2.forward_presynaptic_in(a1, clock);
        self.func2.forward_in(sum, clock)
    }

    /// [`forward`](Self::forward) and the firing rates of both Funcs, in order.
    pub fn forward_with_rates(&self, h: Tensor<5>) -> (Tensor<5>, [Tensor<1>; 2]) {
        let input = self.conv2.input(&h.device());
        let s1 = self.func1.spikes(self.conv1.forward(h.clone()));
        let r1 = s1.clone().mean().detach();
        let a1 = self.func1.presynaptic(s1, true, input);
        let sum = shortcut(self.shortcut.as_ref(), h, &mut Clock::Whole)
            + self.conv2.forward_presynaptic(a1);
        let s2 = self.func2.spikes(sum);
        let r2 = s2.clone().mean().detach();
        let out = self.func2.forward_spikes(s2);
        (out, [r1, r2])
    }
}
