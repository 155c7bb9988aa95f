use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// Configuration of a [`SynapseDense`].
#[derive(Config, Debug)]
pub struct SynapseDenseConfig {
    /// Input neurons.
    pub inputs: usize,
    /// Output neurons.
    pub outputs: usize,
    /// Add a bias. Default: false.
    #[config(default = false)]
    pub bias: bool,
    /// Factor applied to Burn's default (Kaiming-uniform) initialization. Default: 10 (Table 1).
    #[config(default = 10.0)]
    pub weight_scale: f64,
}

/// A dense (fully connected) synapse applied to every time step: `v[b, t] = W·a[b, t]`.
#[derive(Module, Debug)]
pub struct SynapseDense {
    /// The linear map; weight of shape `[inputs, outputs]`.
    pub linear: Linear,
}

impl SynapseDenseConfig {
    /// Initializes the synapse.
    ///
    /// # Panics
    ///
    /// If `inputs` or `outputs` is 0, or the weight scale is not finite and positive.
    pub fn init(&self, device: &Device) -> SynapseDense {
        assert!(
            self.inputs > 0 && self.outputs > 0,
            "SynapseDenseConfig: inputs and outputs must be > 0, got {} and {}",
            self.inputs,
            self.outputs
        );
        assert!(
            self.weight_scale.is_finite() && self.weight_scale > 0.0,
            "SynapseDenseConfig: weight_scale must be finite and > 0, got {}",
            self.weight_scale
        );
        let linear = LinearConfig::new(self.inputs, self.outputs)
            .with_bias(self.bias)
            .with_initializer(super::scaled_default_init(self.weight_scale))
            .init(device);
        SynapseDense { linear }
    }
}

impl SynapseDense {
    /// Applies the map to every time step.
    ///
    /// # Shapes
    ///
    /// - `a`: `[batch, time, inputs]`
    /// - output: `[batch, time, outputs]`
    pub fn forward(&self, a: Tensor<3>) -> Tensor<3> {
        let [b, t, n] = a.dims();
        let [inputs, outputs] = self.linear.weight.dims();
        assert!(
            n == inputs,
            "SynapseDense: expected {inputs} inputs in dim 2, got shape {:?}",
            [b, t, n]
        );
        self.linear
            .forward(a.reshape([b * t, n]))
            .reshape([b, t, outputs])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn matches_a_matrix_product_per_step() {
        let device = device();
        let syn = SynapseDenseConfig::new(4, 3).init(&device);
        let a = random_values(2 * 5 * 4, 3);
        let v = to_f64(syn.forward(tensor_f32(&a, [2, 5, 4], &device)));
        let w = to_f64(syn.linear.weight.val());
        for row in 0..10 {
            for o in 0..3 {
                let want: f64 = (0..4).map(|i| a[row * 4 + i] * w[i * 3 + o]).sum();
                assert!((v[row * 3 + o] - want).abs() < 1e-4);
            }
        }
    }
}
