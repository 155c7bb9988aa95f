//! Per-layer firing rates read from a forward pass (the paper's Figs. 6 and 7).

use burn::tensor::Tensor;

/// Mean firing rate (spikes per neuron per time step) of each spiking layer of one forward
/// pass, in network order. The tensors are detached scalars (shape `[1]`) on the model's
/// device; read them with [`FiringRates::to_vec`] after the step, to avoid a sync per layer.
#[derive(Clone, Debug, Default)]
pub struct FiringRates {
    layers: Vec<(String, Tensor<1>)>,
}

impl FiringRates {
    /// Adds a layer's rate.
    pub fn push(&mut self, name: impl Into<String>, rate: Tensor<1>) {
        self.layers.push((name.into(), rate));
    }

    /// Layer names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.layers.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// Number of layers recorded.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The names and the rate tensors, in order.
    pub fn into_parts(self) -> (Vec<String>, Vec<Tensor<1>>) {
        self.layers.into_iter().unzip()
    }

    /// `(name, rate)` of every layer, read from the device.
    pub fn to_vec(&self) -> Vec<(String, f32)> {
        self.layers
            .iter()
            .map(|(name, rate)| (name.clone(), rate.clone().into_scalar::<f32>()))
            .collect()
    }
}
