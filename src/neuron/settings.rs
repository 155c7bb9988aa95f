//! The settings every spiking layer of a network shares.

use crate::SrmConfig;
use crate::norm::{MembraneNormOptions, Normalization};
use crate::synapse::SynapseKernel;
use burn::config::Config;

/// The per-layer settings of a network: one value for all its layers, held by every network,
/// block and layer config (and by a training run's `ExperimentConfig`).
///
/// The defaults are the paper's (Table 1).
#[derive(Config, Debug, PartialEq)]
pub struct LayerSettings {
    /// The normalization (one choice for the whole network). Default: PSP-LN.
    #[config(default = "Normalization::PspLayer")]
    pub norm: Normalization,
    /// Neuron parameters (τs, τr, θ, α, β). Default: Table 1.
    #[config(default = "SrmConfig::new()")]
    pub srm: SrmConfig,
    /// λ of the PSP normalization `â = a / sqrt(E_X[a²] + λ)` (eq. 19–20). Default: 0.1.
    #[config(default = 0.1)]
    pub lambda: f64,
    /// Factor on Burn's default synapse initialization. Default: 10 (Table 1, matched to
    /// θ = 10).
    #[config(default = 10.0)]
    pub weight_scale: f64,
    /// Time steps `T` of the input window. Only BNTT depends on it (one normalization per
    /// step); in a training run it is also the window the data are binned or encoded into.
    /// Default: 300 (the paper's N-MNIST window).
    #[config(default = 300)]
    pub num_steps: usize,
    /// How the synapses compute (event-driven on the CPU, dense elsewhere, by default; see
    /// [`SynapseKernel`]). Does not change the result beyond rounding. Default: `Auto`.
    #[config(default = "SynapseKernel::Auto")]
    pub synapse_kernel: SynapseKernel,
    /// With the event path: the input density (fraction of nonzero inputs, per layer and
    /// call) above which a synapse runs the dense convolution instead of the event loops
    /// (`1.0`: the event loops at every density; see
    /// [`EventConvOptions::dense_above`](crate::kernels::EventConvOptions::dense_above)). Does
    /// not change the result beyond rounding. Default:
    /// [`DENSE_ABOVE_DENSITY`](crate::kernels::DENSE_ABOVE_DENSITY) (0.25).
    #[config(default = "crate::kernels::DENSE_ABOVE_DENSITY")]
    pub dense_above_density: f64,
    /// With the event path in training: what the backward pass keeps of a synapse and the
    /// spikes that follow it (see [`BackwardMemory`](crate::kernels::BackwardMemory):
    /// recomputing saves most of a step's memory at some cost in time). Does not change the
    /// result. Default: `Recompute`.
    #[config(default = "crate::kernels::BackwardMemory::Recompute")]
    pub backward_memory: crate::kernels::BackwardMemory,
    /// How the membrane baselines (BN, BNTT, tdBN) learn and keep statistics. Default: as
    /// their references do ([`MembraneNormOptions`]).
    #[config(default = "MembraneNormOptions::new()")]
    pub membrane: MembraneNormOptions,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings saved before a field existed (a run's `config.json`) load with its default.
    #[test]
    fn settings_without_a_newer_field_load_with_its_default() {
        let keep = LayerSettings::new().with_backward_memory(crate::kernels::BackwardMemory::Keep);
        let text = serde_json::to_string(&keep).unwrap();
        assert!(text.contains(r#""backward_memory":"Keep""#), "{text}");
        // Saved and loaded.
        assert_eq!(serde_json::from_str::<LayerSettings>(&text).unwrap(), keep);
        // Saved before the field existed.
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json.as_object_mut().unwrap().remove("backward_memory");
        let loaded: LayerSettings = serde_json::from_value(json).unwrap();
        assert_eq!(loaded, LayerSettings::new());
    }
}
