use super::{ConvNorm, ConvNormConfig};
use crate::model::FiringRates;
use crate::neuron::{Func, FuncConfig, SrmConfig};
use crate::norm::Normalization;
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Configuration of a [`PreActivationBlock`] (and, with the same fields, of a
/// [`PostActivationBlock`](super::PostActivationBlock)).
#[derive(Config, Debug)]
pub struct ResidualBlockConfig {
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Stride of the first convolution (2 halves the map). Default: 1.
    #[config(default = 1)]
    pub stride: usize,
    /// The network's normalization. Default: PSP-LN.
    #[config(default = "Normalization::PspLayer")]
    pub norm: Normalization,
    /// Neuron parameters. Default: Table 1.
    #[config(default = "SrmConfig::new()")]
    pub srm: SrmConfig,
    /// λ of the PSP normalization. Default: 0.1.
    #[config(default = 0.1)]
    pub lambda: f64,
    /// Synapse weight scale. Default: 10.
    #[config(default = 10.0)]
    pub weight_scale: f64,
    /// Time steps (BNTT). Default: 300.
    #[config(default = 300)]
    pub num_steps: usize,
}

impl ResidualBlockConfig {
    pub(crate) fn func(&self, channels: usize, device: &Device) -> Func {
        FuncConfig::new(channels)
            .with_norm(self.norm.psp_kind())
            .with_srm(self.srm.clone())
            .with_lambda(self.lambda)
            .init(device)
    }

    pub(crate) fn conv(
        &self,
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        weight_scale: f64,
        device: &Device,
    ) -> ConvNorm {
        ConvNormConfig::new(channels)
            .with_kernel_size(kernel)
            .with_stride(stride)
            .with_norm(self.norm)
            .with_weight_scale(weight_scale)
            .with_num_steps(self.num_steps)
            .with_threshold_scale(self.srm.theta)
            .init(device)
    }

    /// The projection shortcut, when the width or the resolution changes.
    pub(crate) fn projection(&self, weight_scale: f64, device: &Device) -> Option<ConvNorm> {
        (self.channels[0] != self.channels[1] || self.stride != 1)
            .then(|| self.conv(self.channels, 1, self.stride, weight_scale, device))
    }

    /// Initializes a pre-activation block.
    pub fn init_pre(&self, device: &Device) -> PreActivationBlock {
        let [cin, cout] = self.channels;
        PreActivationBlock {
            func1: self.func(cin, device),
            conv1: self.conv([cin, cout], 3, self.stride, self.weight_scale, device),
            func2: self.func(cout, device),
            conv2: self.conv([cout, cout], 3, 1, self.weight_scale, device),
            // The stream holds potentials, so the projection maps potentials linearly with
            // unit weight scale (Kaiming-scaled weights keep their magnitude).
            shortcut: self.projection(1.0, device),
        }
    }
}

/// Pre-activation residual block (eq. 8): `h_{l+1} = P(h) + Conv(Func(Conv(Func(h))))`.
///
/// Where:
/// - `h` is a membrane potential (the residual stream carries potentials);
/// - Func is Spike → PSP → Norm (Fig. 3c), Conv a convolution synapse (with BN / BNTT / tdBN
///   after it for those baselines);
/// - `P` is the identity, or a 1×1 convolution with the block's stride (unit weight scale) when
///   the width or the resolution changes (the projection shortcut).
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
        let a1 = self
            .func1
            .forward_recorded(h.clone(), rates, format!("{name}.1"));
        let a2 = self
            .func2
            .forward_recorded(self.conv1.forward(a1), rates, format!("{name}.2"));
        let g = self.conv2.forward(a2);
        let skip = super::shortcut(self.shortcut.as_ref(), h);
        skip + g
    }
}
