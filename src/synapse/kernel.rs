use crate::functional::has_event_kernels;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// How a synapse computes `W ⊛ â` from a [`Presynaptic`](crate::synapse::Presynaptic) input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SynapseKernel {
    /// [`Events`](Self::Events) where the device has the event kernels (the CPU backends),
    /// [`Dense`](Self::Dense) elsewhere (GPUs: no measurement says the event path is faster
    /// there yet). The default.
    ///
    /// The networks ([`SpikingNetwork`](crate::model::SpikingNetwork),
    /// [`SpikingResNet`](crate::model::SpikingResNet)) also choose per layer by its shape
    /// ([`for_synapse`](Self::for_synapse)): a layer that widens a few channels into many runs
    /// dense.
    #[default]
    Auto,
    /// Burn's convolution or linear layer on the normalized PSP `â`.
    Dense,
    /// The event-driven convolution of the spikes
    /// ([`conv2d_events`](crate::functional::conv2d_events)), followed by the PSP filter and
    /// the normalization factors. Same result as `Dense` up to rounding. Needs a CPU device.
    Events,
}

/// Multiply-adds one PSP filter pass costs per neuron and step, in units of one multiply-add of
/// a convolution: the constant of [`SynapseKernel::for_synapse`]'s rule. Measured on a 2-core
/// x86-64 machine (`cargo bench --bench train_step` with `BURN_SNN_BENCH_SPEC`, README).
const PSP_PASS_COST: usize = 8;

impl SynapseKernel {
    /// The kernel a synapse of `channels_in → channels_out` channels and a `kernel × kernel`
    /// window (1 for a dense synapse) runs with: [`Auto`](Self::Auto) becomes
    /// [`Dense`](Self::Dense) when the event path cannot pay for itself, the others stay.
    ///
    /// Per output pixel and step, the event path saves the dense forward and weight-gradient
    /// convolutions, `2·C_in·C_out·k²` multiply-adds (it runs them on the spikes instead, at a
    /// few percent of that), and pays for more PSP filtering: on the synapse's output
    /// (`C_out` channels, forward and adjoint) and for the statistic (recomputed in the backward
    /// pass), `C_in + 2·C_out` neuron passes more than the dense path. So `Auto` runs events iff
    /// `C_in·C_out·k² ≥ 8·(C_in + 2·C_out)` (`2·…·(1/2)` for the sparse part, one PSP pass
    /// ≈ 16 multiply-adds): dense for F-MNIST's first layer `1 → 8` (72 < 136), events for
    /// Table 2's `2 → 8` (144 ≥ 144) and every wider layer.
    pub fn for_synapse(self, channels_in: usize, channels_out: usize, kernel: usize) -> Self {
        let convolution = channels_in * channels_out * kernel * kernel;
        let filtering = PSP_PASS_COST * (channels_in + 2 * channels_out);
        match self {
            Self::Auto if convolution < filtering => Self::Dense,
            other => other,
        }
    }

    /// Whether a synapse on `device` runs the event path.
    ///
    /// # Panics
    ///
    /// For [`Events`](Self::Events) on a device without event kernels.
    #[track_caller]
    pub fn uses_events(self, device: &Device) -> bool {
        match self {
            Self::Auto => has_event_kernels(device),
            Self::Dense => false,
            Self::Events => {
                assert!(
                    has_event_kernels(device),
                    "SynapseKernel::Events: the event kernels run on the CPU backends (Flex, NdArray), got {device:?}; use Auto or Dense"
                );
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_runs_dense_where_a_few_channels_widen_into_many() {
        use SynapseKernel::*;
        // F-MNIST's first layer 1 → 8 (3×3): 72 < 8·17.
        assert_eq!(Auto.for_synapse(1, 8, 3), Dense);
        assert_eq!(Auto.for_synapse(1, 32, 3), Dense);
        assert_eq!(Auto.for_synapse(1, 32, 5), Auto);
        // Table 2's first layer 2 → 8 (144 = 8·18), wider layers, dense synapses.
        assert_eq!(Auto.for_synapse(2, 8, 3), Auto);
        assert_eq!(Auto.for_synapse(16, 32, 3), Auto);
        assert_eq!(Auto.for_synapse(2048, 10, 1), Auto);
        // A tiny dense synapse: 4·10 < 8·24.
        assert_eq!(Auto.for_synapse(4, 10, 1), Dense);
        // Explicit choices stay.
        assert_eq!(Events.for_synapse(1, 8, 3), Events);
        assert_eq!(Dense.for_synapse(64, 64, 3), Dense);
    }
}
