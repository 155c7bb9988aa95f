use crate::functional::has_event_kernels;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// How a synapse computes `W ⊛ â` from a [`Presynaptic`](crate::synapse::Presynaptic) input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SynapseKernel {
    /// [`Events`](Self::Events) where the device has the event kernels (the CPU backends),
    /// [`Dense`](Self::Dense) elsewhere (GPUs: no measurement says the event path is faster
    /// there yet). The default.
    #[default]
    Auto,
    /// Burn's convolution or linear layer on the normalized PSP `â`.
    Dense,
    /// The event-driven convolution of the spikes
    /// ([`conv2d_events`](crate::functional::conv2d_events)), followed by the PSP filter and
    /// the normalization factors. Same result as `Dense` up to rounding. Needs a CPU device.
    Events,
}

impl SynapseKernel {
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
