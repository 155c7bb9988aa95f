use crate::functional::Clock;
use crate::neuron::LayerSettings;
use crate::norm::{MembraneNorm, MembraneNormConfig};
use crate::synapse::{Potential, Presynaptic, SynapseConv2d, SynapseConv2dConfig, SynapseInput};
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
    /// The network's settings: the weight scale, and the normalization, which acts here when
    /// it is a membrane normalization (BN, BNTT with `num_steps`, tdBN with `α·θ = θ`) and is
    /// ignored otherwise. Default: Table 1 with PSP-LN (so no normalization here).
    #[config(default = "LayerSettings::new()")]
    pub settings: LayerSettings,
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
        let settings = &self.settings;
        ConvNorm {
            conv: SynapseConv2dConfig::new(self.channels, self.kernel_size)
                .with_stride(self.stride)
                .with_weight_scale(settings.weight_scale)
                .with_kernel(settings.synapse_kernel)
                .with_dense_above_density(settings.dense_above_density)
                .with_backward_memory(settings.backward_memory)
                .init(device),
            norm: settings.norm.membrane_kind(settings.num_steps).map(|kind| {
                MembraneNormConfig::new(kind, self.channels[1])
                    .with_threshold_scale(settings.srm.theta)
                    .with_options(settings.membrane.clone())
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
        self.normalize(self.conv.forward(a), &mut Clock::Whole)
    }

    /// [`forward`](Self::forward) on `clock`.
    pub(crate) fn forward_in(&self, a: Tensor<5>, clock: &mut Clock) -> Tensor<5> {
        self.normalize(self.conv.forward(a), clock)
    }

    /// [`forward`](Self::forward) of a Func layer's output in factored form (event-driven on
    /// the CPU, see [`SynapseConv2d::forward_presynaptic`]).
    ///
    /// # Shapes
    ///
    /// As [`forward`](Self::forward).
    pub fn forward_presynaptic(&self, a: Presynaptic<5>) -> Tensor<5> {
        self.forward_presynaptic_in(a, &mut Clock::Whole)
    }

    /// [`forward_presynaptic`](Self::forward_presynaptic) on `clock`.
    pub(crate) fn forward_presynaptic_in(&self, a: Presynaptic<5>, clock: &mut Clock) -> Tensor<5> {
        let v = self.conv.forward_presynaptic_in(a, clock);
        self.normalize(v, clock)
    }

    /// [`forward_presynaptic_in`](Self::forward_presynaptic_in) as a [`Potential`], so that the
    /// next spike generation can run with the synapse in one op where no membrane
    /// normalization sits between them.
    pub(crate) fn forward_potential(&self, a: Presynaptic<5>, clock: &mut Clock) -> Potential<5> {
        match &self.norm {
            Some(_) => Potential::Filtered(self.forward_presynaptic_in(a, clock)),
            None => self.conv.forward_potential(a, clock),
        }
    }

    /// What [`forward_presynaptic`](Self::forward_presynaptic) convolves on `device`
    /// ([`SynapseConv2d::input`]).
    pub fn input(&self, device: &Device) -> SynapseInput {
        self.conv.input(device)
    }

    /// The most time steps a stream through this unit may run (BNTT's `num_steps`), or `None`.
    pub(crate) fn stream_limit(&self) -> Option<usize> {
        self.norm.as_ref().and_then(MembraneNorm::stream_limit)
    }

    fn normalize(&self, v: Tensor<5>, clock: &mut Clock) -> Tensor<5> {
        match &self.norm {
            Some(norm) => norm.forward_in(v, clock),
            None => v,
        }
    }
}
