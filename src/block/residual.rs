use super::{BlockKind, ConvNorm, ConvNormConfig, PostActivationBlock, PreActivationBlock};
use crate::functional::Clock;
use crate::neuron::{FuncConfig, LayerSettings};
use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Configuration of a [`ResidualBlock`] of either kind.
#[derive(Config, Debug)]
pub struct ResidualBlockConfig {
    /// Pre-activation (eq. 8) or post-activation (eq. 9).
    pub kind: BlockKind,
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Stride of the first convolution (2 halves the map). Default: 1.
    #[config(default = 1)]
    pub stride: usize,
    /// The network's settings. Default: Table 1 with PSP-LN.
    #[config(default = "LayerSettings::new()")]
    pub settings: LayerSettings,
}

/// A residual block: pre-activation (eq. 8) or post-activation (eq. 9).
#[derive(Module, Debug)]
pub enum ResidualBlock {
    /// Pre-activation (eq. 8).
    Pre(PreActivationBlock),
    /// Post-activation (eq. 9).
    Post(PostActivationBlock),
}

impl ResidualBlockConfig {
    /// Initializes the block.
    ///
    /// # Panics
    ///
    /// If a channel count or the stride is 0, or a setting is invalid.
    pub fn init(&self, device: &Device) -> ResidualBlock {
        let [cin, cout] = self.channels;
        let func = |channels| FuncConfig::new(channels).with_settings(self.settings.clone());
        let conv = |channels, stride| {
            ConvNormConfig::new(channels)
                .with_stride(stride)
                .with_settings(self.settings.clone())
        };
        // The projection shortcut, when the width or the resolution changes.
        let projection = |weight_scale| {
            (cin != cout || self.stride != 1).then(|| {
                ConvNormConfig::new(self.channels)
                    .with_kernel_size(1)
                    .with_stride(self.stride)
                    .with_settings(self.settings.clone().with_weight_scale(weight_scale))
                    .init(device)
            })
        };
        match self.kind {
            BlockKind::Pre => ResidualBlock::Pre(PreActivationBlock {
                func1: func(cin).init(device),
                conv1: conv([cin, cout], self.stride).init(device),
                func2: func(cout).init(device),
                conv2: conv([cout, cout], 1).init(device),
                // The stream holds potentials, so the projection maps potentials linearly
                // with unit weight scale (Kaiming-scaled weights keep their magnitude).
                shortcut: projection(1.0),
            }),
            BlockKind::Post => ResidualBlock::Post(PostActivationBlock {
                conv1: conv([cin, cout], self.stride).init(device),
                func1: func(cout).init(device),
                conv2: conv([cout, cout], 1).init(device),
                func2: func(cout).init(device),
                // The stream holds normalized PSPs, so the projection is a synapse like the
                // others.
                shortcut: projection(self.settings.weight_scale),
            }),
        }
    }
}

impl ResidualBlock {
    /// Applies the block.
    ///
    /// # Shapes
    ///
    /// - `h`: `[batch, time, channels_in, height, width]`
    /// - output: `[batch, time, channels_out, height / stride, width / stride]`
    pub fn forward(&self, h: Tensor<5>) -> Tensor<5> {
        match self {
            ResidualBlock::Pre(block) => block.forward(h),
            ResidualBlock::Post(block) => block.forward(h),
        }
    }

    /// [`forward`](Self::forward) on `clock`.
    pub(crate) fn forward_in(&self, h: Tensor<5>, clock: &mut Clock) -> Tensor<5> {
        match self {
            ResidualBlock::Pre(block) => block.forward_in(h, clock),
            ResidualBlock::Post(block) => block.forward_in(h, clock),
        }
    }

    /// The most time steps a stream through this block may run (BNTT's `num_steps`), or
    /// `None`.
    pub(crate) fn stream_limit(&self) -> Option<usize> {
        let convs: Vec<&ConvNorm> = match self {
            ResidualBlock::Pre(b) => [Some(&b.conv1), Some(&b.conv2), b.shortcut.as_ref()]
                .into_iter()
                .flatten()
                .collect(),
            ResidualBlock::Post(b) => [Some(&b.conv1), Some(&b.conv2), b.shortcut.as_ref()]
                .into_iter()
                .flatten()
                .collect(),
        };
        convs.iter().filter_map(|c| c.stream_limit()).min()
    }

    /// [`forward`](Self::forward) and the firing rates of the block's two Funcs, in order.
    pub fn forward_with_rates(&self, h: Tensor<5>) -> (Tensor<5>, [Tensor<1>; 2]) {
        match self {
            ResidualBlock::Pre(block) => block.forward_with_rates(h),
            ResidualBlock::Post(block) => block.forward_with_rates(h),
        }
    }

    /// The kind of the block.
    pub fn kind(&self) -> BlockKind {
        match self {
            ResidualBlock::Pre(_) => BlockKind::Pre,
            ResidualBlock::Post(_) => BlockKind::Post,
        }
    }
}

/// The residual path of a block: the identity, or the projection when shapes change.
pub(super) fn shortcut(
    projection: Option<&ConvNorm>,
    h: Tensor<5>,
    clock: &mut Clock,
) -> Tensor<5> {
    match projection {
        Some(projection) => projection.forward_in(h, clock),
        None => h,
    }
}
