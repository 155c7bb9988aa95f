use super::{ConvNorm, ResidualBlockConfig};
use crate::model::FiringRates;
use crate::neuron::Func;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

impl ResidualBlockConfig {
    /// Initializes a post-activation block.
    pub fn init_post(&self, device: &Device) -> PostActivationBlock {
        let [cin, cout] = self.channels;
        PostActivationBlock {
            conv1: self.conv([cin, cout], 3, self.stride, self.weight_scale, device),
            func1: self.func(cout, device),
            conv2: self.conv([cout, cout], 3, 1, self.weight_scale, device),
            func2: self.func(cout, device),
            // The stream holds normalized PSPs, so the projection is a synapse like the others.
            shortcut: self.projection(self.weight_scale, device),
        }
    }
}

/// Post-activation residual block (eq. 9): `h_{l+1} = Func(P(h) + Conv(Func(Conv(h))))`.
///
/// Where:
/// - `h` is the output of a Func (a normalized PSP);
/// - Func is Spike → PSP → Norm, Conv a convolution synapse (with BN / BNTT / tdBN after it
///   for those baselines);
/// - `P` is the identity, or a 1×1 convolution synapse with the block's stride (the network's
///   weight scale) when the width or the resolution changes.
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
        self.forward_recorded(h, &mut None, "")
    }

    /// [`forward`](Self::forward) that records the firing rates of both Funcs as `<name>.1`
    /// and `<name>.2` when `rates` is `Some`.
    pub fn forward_recorded(
        &self,
        h: Tensor<5>,
        rates: &mut Option<&mut FiringRates>,
        name: &str,
    ) -> Tensor<5> {
        let a1 =
            self.func1
                .forward_recorded(self.conv1.forward(h.clone()), rates, format!("{name}.1"));
        let g = self.conv2.forward(a1);
        let skip = super::shortcut(self.shortcut.as_ref(), h);
        self.func2
            .forward_recorded(skip + g, rates, format!("{name}.2"))
    }
}
