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

/// What a synapse convolves of its presynaptic Func layer's output `â = Norm(Pool(ε ∗ s))`,
/// which decides how the Func prepares it
/// ([`Func::presynaptic`](crate::neuron::Func::presynaptic)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynapseInput {
    /// `â` itself (the dense path): the normalization's statistic from the PSP.
    Psp,
    /// The spikes (the event path): the statistic from the spikes, the PSP filter after the
    /// convolution.
    Spikes,
}

/// The weight of one extra PSP pass per neuron and step against one multiply-add of the saved
/// convolutions, in [`SynapseKernel::for_synapse`]'s rule (see there; measured on a 2-core
/// x86-64 machine with `cargo bench --bench train_step` and `BURN_SNN_BENCH_SPEC`; docs/benchmarks.md).
const PSP_PASS_COST: usize = 8;

impl SynapseKernel {
    /// The kernel a synapse of `channels_in → channels_out` channels and a `kernel × kernel`
    /// window (1 for a dense synapse) runs with: [`Auto`](Self::Auto) becomes
    /// [`Dense`](Self::Dense) when the event path cannot pay for itself, the others stay.
    ///
    /// Per output pixel and step, the event path replaces the dense forward and weight-gradient
    /// convolutions (`2·C_in·C_out·k²` multiply-adds) by event loops that cost a few percent of
    /// that at the firing rates of trained networks, and pays for more PSP filtering: it
    /// filters the synapse's output (`C_out` channels, forward and adjoint) where the dense path
    /// filters its input, and computes the statistic in a pass of its own (`C_in`), so
    /// `C_in + 2·C_out` more neuron passes. `Auto` runs events iff
    /// `C_in·C_out·k² ≥ 8·(C_in + 2·C_out)`, the 8 (one pass ≈ 16 multiply-adds of the
    /// saved convolutions, which run at GEMM speed) from these measurements: on F-MNIST's
    /// cpu-small network the first layer `1 → 8` (72 < 136) is faster dense (steps: this rule
    /// 0.132 s, events everywhere 0.163 s, dense everywhere 0.139 s); on Table 2's N-MNIST
    /// network a constant of 30, which sends `2 → 8` (144 ≥ 144 here), `8 → 16` and the output
    /// layer to the dense path, made the step 5–9% slower (T = 100), and on F-MNIST 2–4%
    /// faster, within noise.
    pub fn for_synapse(self, channels_in: usize, channels_out: usize, kernel: usize) -> Self {
        let convolution = channels_in * channels_out * kernel * kernel;
        let filtering = PSP_PASS_COST * (channels_in + 2 * channels_out);
        match self {
            Self::Auto if convolution < filtering => Self::Dense,
            other => other,
        }
    }

    /// What a synapse with this kernel convolves on `device`.
    ///
    /// # Panics
    ///
    /// As [`uses_events`](Self::uses_events).
    #[track_caller]
    pub fn input(self, device: &Device) -> SynapseInput {
        if self.uses_events(device) {
            SynapseInput::Spikes
        } else {
            SynapseInput::Psp
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
