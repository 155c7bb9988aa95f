use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Tensor};

use super::{Potential, Presynaptic, SynapseInput, SynapseKernel};
use crate::functional::Clock;
use crate::kernels::{BackwardMemory, EventConvOptions};

/// Configuration of a [`SynapseConv2d`].
#[derive(Config, Debug)]
pub struct SynapseConv2dConfig {
    /// Input and output channels.
    pub channels: [usize; 2],
    /// Square kernel size. Padding is `kernel_size / 2` ("same" for odd sizes).
    pub kernel_size: usize,
    /// Stride. Default: 1.
    #[config(default = 1)]
    pub stride: usize,
    /// Add a bias. Default: false (the paper's synapses have none).
    #[config(default = false)]
    pub bias: bool,
    /// Factor applied to Burn's default (Kaiming-uniform) initialization. Default: 10 (the
    /// paper's Table 1, matched to θ = 10).
    #[config(default = 10.0)]
    pub weight_scale: f64,
    /// How [`forward_presynaptic`](SynapseConv2d::forward_presynaptic) computes. Default:
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

/// A 2-D convolution applied to every time step: `v[b, t] = W ⊛ a[b, t]`.
#[derive(Module, Debug)]
pub struct SynapseConv2d {
    /// The convolution; weight of shape `[channels_out, channels_in, k, k]`.
    pub conv: Conv2d,
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

impl SynapseConv2dConfig {
    /// Initializes the synapse.
    ///
    /// # Panics
    ///
    /// If a channel count, the kernel size or the stride is 0, the weight scale is not finite
    /// and positive, or `dense_above_density` is NaN.
    pub fn init(&self, device: &Device) -> SynapseConv2d {
        let [cin, cout] = self.channels;
        assert!(
            cin > 0 && cout > 0 && self.kernel_size > 0 && self.stride > 0,
            "SynapseConv2dConfig: channels, kernel_size and stride must be > 0, got channels {:?}, kernel_size {}, stride {}",
            self.channels,
            self.kernel_size,
            self.stride
        );
        assert!(
            self.weight_scale.is_finite() && self.weight_scale > 0.0,
            "SynapseConv2dConfig: weight_scale must be finite and > 0, got {}",
            self.weight_scale
        );
        assert!(
            !self.dense_above_density.is_nan(),
            "SynapseConv2dConfig: dense_above_density must be a number (a density in [0, 1], or beyond to always or never run the event loops), got NaN"
        );
        let pad = self.kernel_size / 2;
        let conv = Conv2dConfig::new(self.channels, [self.kernel_size; 2])
            .with_stride([self.stride; 2])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(self.bias)
            .with_initializer(super::scaled_default_init(self.weight_scale))
            .init(device);
        SynapseConv2d {
            conv,
            kernel: self.kernel,
            dense_above_density: self.dense_above_density,
            backward_memory: self.backward_memory,
        }
    }
}

impl SynapseConv2d {
    /// Applies the convolution to every time step.
    ///
    /// # Shapes
    ///
    /// - `a`: `[batch, time, channels_in, height, width]`
    /// - output: `[batch, time, channels_out, height', width']`, `height' = ⌈height / stride⌉`
    ///   for odd kernels
    pub fn forward(&self, a: Tensor<5>) -> Tensor<5> {
        let [b, t, c, h, w] = a.dims();
        let [_, cin, _, _] = self.conv.weight.dims();
        assert!(
            c == cin,
            "SynapseConv2d: expected {cin} input channels in dim 2, got shape {:?}",
            [b, t, c, h, w]
        );
        let v = self.conv.forward(a.reshape([b * t, c, h, w]));
        let [_, c2, h2, w2] = v.dims();
        v.reshape([b, t, c2, h2, w2])
    }

    /// What [`forward_presynaptic`](Self::forward_presynaptic) convolves on `device`: what to
    /// ask the Func layer before it for
    /// ([`Func::presynaptic`](crate::neuron::Func::presynaptic)).
    pub fn input(&self, device: &Device) -> SynapseInput {
        self.kernel.input(device)
    }

    /// [`forward`](Self::forward) of a Func layer's output `â`, given in factored form.
    ///
    /// With the event path ([`SynapseKernel`]) the convolution runs on the spikes, PSP-BN's
    /// per-channel factor folded into the weights, and the PSP filter and PSP-LN's per-sample
    /// factor act on its output: `ε ∗ (W·diag(c) ⊛ Pool(s))·r_b + bias` (see [`Presynaptic`]).
    /// Otherwise it is `forward(x.dense())`.
    ///
    /// # Shapes
    ///
    /// - `x`: `[batch, time, channels_in, height, width]`
    /// - output: `[batch, time, channels_out, height', width']`
    pub fn forward_presynaptic(&self, x: Presynaptic<5>) -> Tensor<5> {
        self.forward_presynaptic_in(x, &mut Clock::Whole)
    }

    /// [`forward_presynaptic`](Self::forward_presynaptic) on `clock`.
    pub(crate) fn forward_presynaptic_in(&self, x: Presynaptic<5>, clock: &mut Clock) -> Tensor<5> {
        self.forward_potential(x, clock).filtered(clock)
    }

    /// [`forward_presynaptic`](Self::forward_presynaptic) on `clock`, its PSP filter left to
    /// run later where the clock allows (see [`Potential`]).
    pub(crate) fn forward_potential(&self, x: Presynaptic<5>, clock: &mut Clock) -> Potential<5> {
        let device = x.device();
        if !self.kernel.uses_events(&device) {
            return Potential::Filtered(self.forward(x.dense_in(clock)));
        }
        let [b, t, c, h, w] = x.events().dims();
        let [cout, cin, k, _] = self.conv.weight.dims();
        assert!(
            c == cin,
            "SynapseConv2d: expected {cin} input channels in dim 2, got shape {:?}",
            [b, t, c, h, w]
        );
        let options = EventConvOptions::new(self.conv.stride[0], k / 2)
            .with_dense_above(self.dense_above_density)
            .with_memory(self.backward_memory);
        let v = x.convolve_potential(self.conv.weight.val(), options, clock);
        match &self.conv.bias {
            Some(bias) => {
                Potential::Filtered(v.filtered(clock) + bias.val().reshape([1, 1, cout, 1, 1]))
            }
            None => v,
        }
    }

    /// Output channels.
    pub fn channels_out(&self) -> usize {
        self.conv.weight.dims()[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn every_time_step_gets_the_same_convolution() {
        let device = device();
        let syn = SynapseConv2dConfig::new([2, 3], 3)
            .with_weight_scale(1.0)
            .init(&device);
        let a = tensor_f32(
            &random_values(2 * 4 * 2 * 5 * 5, 1),
            [2, 4, 2, 5, 5],
            &device,
        );
        let v = syn.forward(a.clone());
        assert_eq!(v.dims(), [2, 4, 3, 5, 5]);
        // Direct convolution of sample 1, step 2, output channel 1, pixel (0, 0) with padding 1.
        let x = to_f64(a.slice([1..2, 2..3]).reshape([2, 5, 5]));
        let wt = to_f64(syn.conv.weight.val());
        let mut want = 0.0;
        for ci in 0..2 {
            for ky in 0..3 {
                for kx in 0..3 {
                    let (y, xx) = (ky as i64 - 1, kx as i64 - 1);
                    if y >= 0 && xx >= 0 {
                        want += wt[((2 + ci) * 3 + ky) * 3 + kx]
                            * x[(ci * 5 + y as usize) * 5 + xx as usize];
                    }
                }
            }
        }
        let got = to_f64(v.slice([1..2, 2..3, 1..2, 0..1, 0..1]))[0];
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn weight_scale_multiplies_the_initialization_and_stride_downsamples() {
        let device = device();
        let syn = SynapseConv2dConfig::new([4, 8], 3)
            .with_stride(2)
            .init(&device);
        let w = to_f64(syn.conv.weight.val());
        // Kaiming-uniform bound for fan_in 36 with gain 1/√3 is 1/6; scaled by 10.
        let bound = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(bound > 1.0 && bound <= 10.0 / 6.0 + 1e-6, "{bound}");
        assert!(syn.conv.bias.is_none());
        let v = syn.forward(Tensor::zeros([1, 2, 4, 34, 34], &device));
        assert_eq!(v.dims(), [1, 2, 8, 17, 17]);
    }

    #[test]
    #[should_panic(
        expected = "SynapseConv2d: expected 4 input channels in dim 2, got shape [1, 2, 3, 5, 5]"
    )]
    fn wrong_channels_panic() {
        let device = device();
        let syn = SynapseConv2dConfig::new([4, 8], 3).init(&device);
        syn.forward(Tensor::zeros([1, 2, 3, 5, 5], &device));
    }
}
