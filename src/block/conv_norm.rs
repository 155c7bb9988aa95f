use crate::norm::{MembraneNorm, MembraneNormConfig, Normalization};
use crate::synapse::{SynapseConv2d, SynapseConv2dConfig};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Configuration of a [`ConvNorm`].
#[derive(Config, Debug)]
pub struct ConvNormConfig {
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Square kernel size. Default: 3.
    #[config(default = 3)]
    pub kernel_size: usize,
    /// Stride. Default: 1.
    #[config(default = 1)]
    pub stride: usize,
    /// The network's normalization; only the membrane kinds (BN, BNTT, tdBN) act here.
    #[config(default = "Normalization::None")]
    pub norm: Normalization,
    /// Synapse weight scale. Default: 10.
    #[config(default = 10.0)]
    pub weight_scale: f64,
    /// Time steps (BNTT). Default: 300.
    #[config(default = 300)]
    pub num_steps: usize,
    /// `α·θ` of tdBN. Default: 10.
    #[config(default = 10.0)]
    pub threshold_scale: f64,
}

/// A convolution synapse followed by the network's membrane normalization, if it has one:
/// the "Conv" of the residual equations.
#[derive(Module, Debug)]
pub struct ConvNorm {
    /// The convolution.
    pub conv: SynapseConv2d,
    /// BN / BNTT / tdBN of its output, when the network uses one.
    pub norm: Option<MembraneNorm>,
}

impl ConvNormConfig {
    /// Initializes the unit.
    pub fn init(&self, device: &Device) -> ConvNorm {
        ConvNorm {
            conv: SynapseConv2dConfig::new(self.channels, self.kernel_size)
                .with_stride(self.stride)
                .with_weight_scale(self.weight_scale)
                .init(device),
            norm: self.norm.membrane_kind().map(|kind| {
                MembraneNormConfig::new(kind, self.channels[1])
                    .with_num_steps(self.num_steps)
                    .with_threshold_scale(self.threshold_scale)
                    .init(device)
            }),
        }
    }
}

impl ConvNorm {
    /// Convolution, then the membrane normalization.
    ///
    /// # Shapes
    ///
    /// - `a`: `[batch, time, channels_in, height, width]`
    /// - output: `[batch, time, channels_out, height / stride, width / stride]` (rounded up)
    pub fn forward(&self, a: Tensor<5>) -> Tensor<5> {
        let v = self.conv.forward(a);
        match &self.norm {
            Some(norm) => norm.forward(v),
            None => v,
        }
    }
}
