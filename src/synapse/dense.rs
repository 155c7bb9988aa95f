use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::{Potential, Presynaptic, SynapseInput, SynapseKernel};
use crate::functional::Clock;
use crate::kernels::{BackwardMemory, EventConvOptions, WeightLayout};

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
    /// How [`forward_presynaptic`](SynapseDense::forward_presynaptic) computes. Default:
    /// [`SynapseKernel::Auto`] (event-driven on the CPU).
    #[config(default = "SynapseKernel::Auto")]
    pub kernel: SynapseKernel,
    /// With the event path: the input density (fraction of nonzero inputs, per call) above
    /// which the dense convolution runs instead of the event loops (`1.0`: the event loops at
    /// every density). Does not change the result beyond rounding. Default:
    /// [`DENSE_ABOVE_DENSITY`](crate::kernels::DENSE_ABOVE_DENSITY) (0.25).
    #[config(default = "crate::kernels::DENSE_ABOVE_DENSITY")]
    pub dense_above_density: f64,
    /// With the event path in training: what the backward pass keeps of the synapse and the
    /// spikes that follow it ([`BackwardMemory`]). Does not change the result. Default:
    /// [`BackwardMemory::Recompute`].
    #[config(default = "BackwardMemory::Recompute")]
    pub backward_memory: BackwardMemory,
}

/// A dense (fully connected) synapse applied to every time step: `v[b, t] = W·a[b, t]`.
#[derive(Module, Debug)]
pub struct SynapseDense {
    /// The linear map; weight of shape `[inputs, outputs]`.
    pub linear: Linear,
    /// How [`forward_presynaptic`](Self::forward_presynaptic) computes.
    #[module(skip)]
    pub kernel: SynapseKernel,
    /// The event path's density threshold ([`EventConvOptions::dense_above`]).
    #[module(skip)]
    pub dense_above_density: f64,
    /// What the event path's backward pass keeps ([`BackwardMemory`]).
    #[module(skip)]
    pub backward_memory: BackwardMemory,
}

impl SynapseDenseConfig {
    /// Initializes the synapse.
    ///
    /// # Panics
    ///
    /// If `inputs` or `outputs` is 0, the weight scale is not finite and positive, or `dense_above_density` is NaN.
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
        assert!(
            !self.dense_above_density.is_nan(),
            "SynapseDenseConfig: dense_above_density must be a number (a density in [0, 1], or beyond to always or never run the event loops), got NaN"
        );
        let linear = LinearConfig::new(self.inputs, self.outputs)
            .with_bias(self.bias)
            .with_initializer(super::scaled_default_init(self.weight_scale))
            .init(device);
        SynapseDense {
            linear,
            kernel: self.kernel,
            dense_above_density: self.dense_above_density,
            backward_memory: self.backward_memory,
        }
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

    /// What [`forward_presynaptic`](Self::forward_presynaptic) convolves on `device`: what to
    /// ask the Func layer before it for
    /// ([`Func::presynaptic`](crate::neuron::Func::presynaptic)).
    pub fn input(&self, device: &Device) -> SynapseInput {
        self.kernel.input(device)
    }

    /// [`forward`](Self::forward) of a Func layer's output `â`, given in factored form.
    ///
    /// The event path is a 1×1 event-driven convolution of the spikes on a 1×1 map, with
    /// PSP-BN's per-input factor folded into the weights, then the PSP filter and PSP-LN's
    /// per-sample factor (see [`Presynaptic`]). Otherwise `forward(x.dense())`.
    ///
    /// # Shapes
    ///
    /// - `x`: `[batch, time, inputs]`
    /// - output: `[batch, time, outputs]`
    pub fn forward_presynaptic(&self, x: Presynaptic<3>) -> Tensor<3> {
        self.forward_presynaptic_in(x, &mut Clock::Whole)
    }

    /// [`forward_presynaptic`](Self::forward_presynaptic) on `clock`.
    pub(crate) fn forward_presynaptic_in(&self, x: Presynaptic<3>, clock: &mut Clock) -> Tensor<3> {
        self.forward_potential(x, clock).filtered(clock)
    }

    /// [`forward_presynaptic`](Self::forward_presynaptic) on `clock`, its PSP filter left to
    /// run later where the clock allows (see [`Potential`]).
    pub(crate) fn forward_potential(&self, x: Presynaptic<3>, clock: &mut Clock) -> Potential<3> {
        let device = x.device();
        if !self.kernel.uses_events(&device) {
            return Potential::Filtered(self.forward(x.dense_in(clock)));
        }
        let [b, t, n] = x.events().dims();
        let [inputs, outputs] = self.linear.weight.dims();
        assert!(
            n == inputs,
            "SynapseDense: expected {inputs} inputs in dim 2, got shape {:?}",
            [b, t, n]
        );
        // A 1×1 convolution on a 1×1 map; Linear's weight is [inputs, outputs]. Inference
        // reads it as it is stored (the event loops' layout); autodiff tracks Burn's layout.
        let weight = self.linear.weight.val();
        let (weight, layout) = if device.is_autodiff() {
            let weight = weight.transpose().reshape([outputs, inputs, 1, 1]);
            (weight, WeightLayout::OutIn)
        } else {
            (weight.reshape([inputs, outputs, 1, 1]), WeightLayout::InOut)
        };
        let options = EventConvOptions::new(1, 0)
            .with_dense_above(self.dense_above_density)
            .with_memory(self.backward_memory)
            .with_weight(layout);
        let v = x
            .into_map()
            .convolve_potential(weight, options, clock)
            .reshape([b, t, outputs]);
        match &self.linear.bias {
            Some(bias) => {
                Potential::Filtered(v.filtered(clock) + bias.val().reshape([1, 1, outputs]))
            }
            None => v,
        }
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

    /// Inference reads the weight as `Linear` stores it (`WeightLayout::InOut`), on the event
    /// loops and on the dense fallback: both match the dense synapse on the PSP.
    #[test]
    fn inference_on_events_matches_the_dense_synapse() {
        let device = device();
        assert!(!device.is_autodiff());
        for (density, dense_above) in [(0.05, 1.0), (0.5, 0.25)] {
            let syn = SynapseDenseConfig::new(40, 7)
                .with_kernel(SynapseKernel::Events)
                .with_dense_above_density(dense_above)
                .init(&device);
            let s = tensor_f32(
                &random_spikes(3 * 20 * 40, density, 5),
                [3, 20, 40],
                &device,
            );
            let (events_before, dense_before) = crate::kernels::event_host::tests::paths();
            let events = syn.forward_presynaptic(Presynaptic::new(s.clone(), 10.0));
            // The path the case is about ran: the event loops, or the dense fallback.
            let (events_after, dense_after) = crate::kernels::event_host::tests::paths();
            match dense_above {
                1.0 => assert_eq!(events_after, events_before + 1, "event loops"),
                _ => assert_eq!(dense_after, dense_before + 1, "dense fallback"),
            }
            let a = crate::functional::psp(s.clone(), 10.0);
            let dense = syn.forward(a.clone());
            assert_close(
                &to_f64(events),
                &to_f64(dense),
                1e-4,
                "dense layer on events",
            );
            // PSP-BN's per-input factor scales the stored weights along their inputs.
            let moment: Vec<f64> = random_values(40, 6).iter().map(|m| 0.2 + m.abs()).collect();
            let moment = tensor_f32(&moment, [1, 1, 40], &device);
            let normalized = Presynaptic::normalized(
                s,
                None,
                crate::functional::PspNormKind::Batch,
                moment.clone(),
                0.1,
                10.0,
            );
            let events = syn.forward_presynaptic(normalized);
            let dense = syn.forward(crate::functional::psp_norm_with_moment(a, moment, 0.1));
            assert_close(
                &to_f64(events),
                &to_f64(dense),
                1e-4,
                "PSP-BN dense layer on events",
            );
        }
    }
}
