//! Batch normalizations of the membrane potential: the paper's baselines, as their
//! references define them.

use super::update_running;
use crate::functional::Clock;
use burn::config::Config;
use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::module::{batch_norm, batch_norm_train};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Which batch normalization of the membrane potential (applied after the synapse, before
/// the spike; the paper's baselines, Sec. 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MembraneNormKind {
    /// Batch normalization (\[35\], Ioffe & Szegedy 2015) of `v`: per channel, statistics over
    /// batch, time and space, `y = γ·(v − μ)/sqrt(σ² + ε) + β`.
    Bn,
    /// Batch normalization through time (\[34\], Kim & Panda 2021): a separate normalization
    /// for every one of `num_steps` time steps, statistics per channel over batch and space,
    /// `y_t = γ_t·(v_t − μ_t)/sqrt(σ_t² + ε)`. As in the authors' code and SpikingJelly's
    /// `BatchNormThroughTime2d`, it learns a scale per step and channel and no shift
    /// ([`MembraneNormOptions::bntt_shift`] adds one). The input must have exactly
    /// `num_steps` steps.
    Bntt {
        /// Time steps (one normalization each).
        num_steps: usize,
    },
    /// Threshold-dependent batch normalization (\[33\], Zheng et al. 2021, eq. 6): statistics as
    /// `Bn`, `y = λ·(α·θ)·(v − μ)/sqrt(σ² + ε) + β` with λ (initialized to 1) and β learned and
    /// `α·θ` a constant ([`MembraneNormOptions::tdbn_scale`] selects SpikingJelly's form,
    /// which learns γ = λ·α·θ instead).
    TdBn,
}

/// How tdBN learns its scale. Both give the same forward pass at initialization; they differ
/// in the gradient of the learned scale (by the factor `α·θ`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TdBnScale {
    /// The paper's form (Zheng et al. 2021, eq. 6): `λ·(α·θ)` with λ learned, initialized to
    /// 1, and `α·θ` a constant.
    #[default]
    Paper,
    /// SpikingJelly's `ThresholdDependentBatchNorm2d`: `γ` learned, initialized to `α·θ`.
    Folded,
}

/// Which variance of the batch the running average keeps (it is used in inference only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunningVariance {
    /// The unbiased estimate `n/(n−1)·σ²`, as PyTorch (and every reference the paper ran)
    /// keeps it.
    #[default]
    Unbiased,
    /// The biased batch variance `σ²`, as Burn's `BatchNorm` keeps it.
    Biased,
}

/// How the membrane baselines learn and keep their statistics. The defaults follow the code of
/// the papers they come from; the other values are documented alternatives.
#[derive(Config, Debug, PartialEq)]
pub struct MembraneNormOptions {
    /// BNTT also learns a shift β per step and channel (this crate's BNTT before it
    /// followed its reference). Default: false (BNTT's authors and SpikingJelly learn the scale only).
    #[config(default = false)]
    pub bntt_shift: bool,
    /// How tdBN learns its scale. Default: [`TdBnScale::Paper`].
    #[config(default = "TdBnScale::Paper")]
    pub tdbn_scale: TdBnScale,
    /// Which variance the running statistics keep. Default: [`RunningVariance::Unbiased`]
    /// (PyTorch's).
    #[config(default = "RunningVariance::Unbiased")]
    pub running_variance: RunningVariance,
    /// "Fair start" for BN and BNTT: their scale γ starts at `threshold_scale` (θ) instead of
    /// 1, so that the normalized membrane potential starts at tdBN's scale `α·θ` and reaches
    /// the threshold. **Not the paper's setting**; it measures whether the baselines' failure
    /// is only their start. Default: false.
    #[config(default = false)]
    pub fair_start: bool,
}

/// Configuration of a [`MembraneNorm`].
#[derive(Config, Debug)]
pub struct MembraneNormConfig {
    /// The normalization.
    pub kind: MembraneNormKind,
    /// Channels (dim 2 of the input).
    pub num_features: usize,
    /// `α·θ` of tdBN, and the fair start's initial scale. Default: 10 (α = 1, θ = 10).
    #[config(default = 10.0)]
    pub threshold_scale: f64,
    /// ε of the variance. Default: 1e-5.
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// Momentum of the running statistics. Default: 0.1.
    #[config(default = 0.1)]
    pub momentum: f64,
    /// What is learned and kept. Default: the references' forms.
    #[config(default = "MembraneNormOptions::new()")]
    pub options: MembraneNormOptions,
}

/// Batch normalization of the membrane potential `v` (see [`MembraneNormKind`]).
///
/// Training (an autodiff device with `training` enabled) normalizes with the batch statistics
/// and updates their running averages; inference uses the running averages.
#[derive(Module, Debug)]
pub struct MembraneNorm {
    /// The learned scale, one per normalized feature (`num_features`, or
    /// `num_steps · num_features` for BNTT): γ, or tdBN's λ in the paper's form (then
    /// multiplied by the constant [`gain`](Self::gain)).
    pub scale: Param<Tensor<1>>,
    /// The learned shift β, per feature; `None` where the normalization learns none (BNTT).
    pub shift: Option<Param<Tensor<1>>>,
    /// Running average of the mean.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running average of the variance (see [`RunningVariance`]).
    pub running_var: RunningState<Tensor<1>>,
    /// Whether to use batch statistics (and update the running averages) on an autodiff
    /// device.
    pub training: Param<Flag>,
    /// Constant factor on the scale: `α·θ` for tdBN in the paper's form, 1 otherwise.
    pub gain: f64,
    /// ε of the variance.
    pub epsilon: f64,
    /// Momentum of the running statistics.
    pub momentum: f64,
    /// The kind.
    #[module(skip)]
    pub kind: MembraneNormKind,
    /// Which variance the running average keeps.
    #[module(skip)]
    pub running_variance: RunningVariance,
    /// Channels.
    pub num_features: usize,
}

impl MembraneNormConfig {
    /// Initializes the normalization.
    ///
    /// # Panics
    ///
    /// If `num_features` is 0, `num_steps` is 0 for `Bntt`, `epsilon` is not positive or
    /// `momentum` is outside `[0, 1]`.
    pub fn init(&self, device: &Device) -> MembraneNorm {
        assert!(
            self.num_features > 0,
            "MembraneNormConfig: num_features must be > 0"
        );
        assert!(
            self.epsilon > 0.0 && self.epsilon.is_finite(),
            "MembraneNormConfig: epsilon must be finite and > 0, got {}",
            self.epsilon
        );
        assert!(
            (0.0..=1.0).contains(&self.momentum),
            "MembraneNormConfig: momentum must be in [0, 1], got {}",
            self.momentum
        );
        let options = &self.options;
        let (features, shift) = match self.kind {
            MembraneNormKind::Bntt { num_steps } => {
                assert!(
                    num_steps > 0,
                    "MembraneNormConfig: Bntt needs num_steps > 0 (one normalization per time step)"
                );
                (num_steps * self.num_features, options.bntt_shift)
            }
            MembraneNormKind::Bn | MembraneNormKind::TdBn => (self.num_features, true),
        };
        let (initial_scale, gain) = match (self.kind, options.tdbn_scale) {
            (MembraneNormKind::TdBn, TdBnScale::Paper) => (1.0, self.threshold_scale),
            (MembraneNormKind::TdBn, TdBnScale::Folded) => (self.threshold_scale, 1.0),
            _ if options.fair_start => (self.threshold_scale, 1.0),
            _ => (1.0, 1.0),
        };
        MembraneNorm {
            scale: Param::from_tensor(Tensor::full([features], initial_scale, device)),
            shift: shift.then(|| Param::from_tensor(Tensor::zeros([features], device))),
            running_mean: RunningState::new(Tensor::zeros([features], device)),
            running_var: RunningState::new(Tensor::ones([features], device)),
            training: Param::from_bool(true),
            gain,
            epsilon: self.epsilon,
            momentum: self.momentum,
            kind: self.kind,
            running_variance: options.running_variance,
            num_features: self.num_features,
        }
    }
}

impl MembraneNorm {
    /// Normalizes the membrane potential.
    ///
    /// Any rank works: the input is viewed (no copy) as `[batch·time, channels, rest]` for
    /// `Bn` and `TdBn` (statistics per channel over batch, time and the remaining dims) and as
    /// `[batch, time·channels, rest]` for `Bntt` (per step and channel), `rest` being the
    /// product of the dims after the channels (1 for a `[batch, time, channels]` tensor).
    ///
    /// # Shapes
    ///
    /// - `v`: `[batch, time, num_features, ...]` (rank ≥ 3); for `Bntt`, `time == num_steps`
    /// - output: same as `v`
    pub fn forward<const D: usize>(&self, v: Tensor<D>) -> Tensor<D> {
        let dims = v.dims();
        assert!(
            D >= 3 && dims[2] == self.num_features,
            "MembraneNorm: expected [batch, time, {}, ...], got shape {dims:?}",
            self.num_features
        );
        let (b, t, c) = (dims[0], dims[1], dims[2]);
        let rest = dims[3..].iter().product::<usize>();
        let folded = match self.kind {
            MembraneNormKind::Bntt { num_steps } => {
                assert!(
                    t == num_steps,
                    "MembraneNorm: Bntt was built for {num_steps} time steps, got {t} in shape {dims:?}"
                );
                [b, t * c, rest]
            }
            MembraneNormKind::Bn | MembraneNormKind::TdBn => [b * t, c, rest],
        };
        let v = v.reshape(folded);
        if v.device().is_autodiff() && self.training.is_enabled() {
            self.forward_train(v).reshape(dims)
        } else {
            let features = 0..self.scale.dims()[0];
            self.forward_inference(v, features).reshape(dims)
        }
    }

    /// Batch statistics, and the running averages updated.
    fn forward_train(&self, v: Tensor<3>) -> Tensor<3> {
        let [n, features, rest] = v.dims();
        let device = v.device();
        let scale = self.scale_values(0..features, &device);
        let shift = self.shift_values(0..features, &device);
        let result = batch_norm_train(v, scale, shift, self.epsilon);
        // Samples per statistic; PyTorch keeps the unbiased variance n/(n−1)·σ².
        let count = (n * rest) as f64;
        let correction = match self.running_variance {
            RunningVariance::Unbiased if count > 1.0 => count / (count - 1.0),
            _ => 1.0,
        };
        let momentum = self.momentum;
        update_running(&self.running_mean, result.mean, momentum, &device);
        let variance = result.variance.mul_scalar(correction);
        update_running(&self.running_var, variance, momentum, &device);
        result.output
    }

    /// The running statistics of `features` (a range of the normalized features).
    fn forward_inference(&self, v: Tensor<3>, features: core::ops::Range<usize>) -> Tensor<3> {
        let device = v.device();
        let running = |state: &RunningState<Tensor<1>>| {
            state.value().to_device(&device).slice([features.clone()])
        };
        batch_norm(
            v,
            self.scale_values(features.clone(), &device),
            self.shift_values(features.clone(), &device),
            running(&self.running_mean),
            running(&self.running_var),
            self.epsilon,
        )
    }

    /// The scale applied to `features`: the learned scale times the constant gain.
    fn scale_values(&self, features: core::ops::Range<usize>, device: &Device) -> Tensor<1> {
        let all = features.len() == self.scale.dims()[0];
        let scale = self.scale.val();
        let scale = if all { scale } else { scale.slice([features]) };
        let scale = if self.gain == 1.0 {
            scale
        } else {
            scale.mul_scalar(self.gain)
        };
        scale.to_device(device)
    }

    /// The shift applied to `features` (zeros where none is learned).
    fn shift_values(&self, features: core::ops::Range<usize>, device: &Device) -> Tensor<1> {
        match &self.shift {
            Some(shift) => shift.val().slice([features]).to_device(device),
            None => Tensor::zeros([features.len()], device),
        }
    }

    /// [`forward`](Self::forward) on `clock`. On a stream (inference: the running
    /// statistics), BNTT normalizes each step with the statistics of its index in the
    /// sequence, counted from the stream's start.
    ///
    /// # Panics
    ///
    /// If a BNTT stream passes the `num_steps` it was built for (no statistics exist there).
    pub(crate) fn forward_in<const D: usize>(&self, v: Tensor<D>, clock: &mut Clock) -> Tensor<D> {
        let MembraneNormKind::Bntt { num_steps } = self.kind else {
            return self.forward(v);
        };
        if !clock.is_stream() {
            return self.forward(v);
        }
        let dims = v.dims();
        let (b, k, c) = (dims[0], dims[1], self.num_features);
        let start = clock.start();
        assert!(
            start + k <= num_steps,
            "MembraneNorm: BNTT has statistics for {num_steps} time steps, a stream cannot go past them (steps {start}..{} asked)",
            start + k
        );
        let rest = dims[3..].iter().product::<usize>();
        self.forward_inference(v.reshape([b, k * c, rest]), start * c..(start + k) * c)
            .reshape(dims)
    }

    /// The most time steps a stream through this normalization may run (BNTT: its
    /// `num_steps`), or `None`.
    pub fn stream_limit(&self) -> Option<usize> {
        match self.kind {
            MembraneNormKind::Bntt { num_steps } => Some(num_steps),
            MembraneNormKind::Bn | MembraneNormKind::TdBn => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// Per-group standardization reference: `groups(i)` names the statistic of element i.
    fn standardize(v: &[f64], group: impl Fn(usize) -> usize, groups: usize) -> Vec<f64> {
        let mut sum = vec![0.0; groups];
        let mut sq = vec![0.0; groups];
        let mut n = vec![0.0; groups];
        for (i, x) in v.iter().enumerate() {
            sum[group(i)] += x;
            sq[group(i)] += x * x;
            n[group(i)] += 1.0;
        }
        v.iter()
            .enumerate()
            .map(|(i, x)| {
                let g = group(i);
                let mean = sum[g] / n[g];
                let var = sq[g] / n[g] - mean * mean;
                (x - mean) / (var + 1e-5).sqrt()
            })
            .collect()
    }

    #[test]
    fn each_kind_matches_its_reference_in_training() {
        let device = device().autodiff();
        let (b, t, c, s) = (3, 4, 2, 5);
        let v = random_values(b * t * c * s, 9);
        let input = tensor_f32(&v, [b, t, c, 1, s], &device);
        let channel = |i: usize| (i / s) % c;
        let step_channel = |i: usize| (i / s) % (t * c);
        for (kind, want) in [
            (MembraneNormKind::Bn, standardize(&v, channel, c)),
            (
                MembraneNormKind::Bntt { num_steps: t },
                standardize(&v, step_channel, t * c),
            ),
            (
                MembraneNormKind::TdBn,
                standardize(&v, channel, c)
                    .iter()
                    .map(|x| 10.0 * x)
                    .collect(),
            ),
        ] {
            let norm = MembraneNormConfig::new(kind, c).init(&device);
            let got = to_f64(norm.forward(input.clone()));
            assert_close(&got, &want, 1e-4, &format!("{kind:?}"));
            // Any rank: the same values as [b, t, c, s] (rank 4) and, with the spatial dims
            // split, as rank 6.
            let got4 = to_f64(norm.forward(input.clone().reshape([b, t, c, s])));
            assert_close(&got4, &want, 1e-4, &format!("{kind:?} rank 4"));
            let got6 = to_f64(norm.forward(tensor_f32(&v, [b, t, c, 1, 1, s], &device)));
            assert_close(&got6, &want, 1e-4, &format!("{kind:?} rank 6"));
        }
    }

    #[test]
    #[should_panic(
        expected = "MembraneNorm: Bntt was built for 4 time steps, got 3 in shape [2, 3, 2]"
    )]
    fn bntt_checks_the_step_count() {
        let device = device();
        let norm =
            MembraneNormConfig::new(MembraneNormKind::Bntt { num_steps: 4 }, 2).init(&device);
        norm.forward(Tensor::<3>::zeros([2, 3, 2], &device));
    }
}
