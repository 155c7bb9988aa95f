//! Batch normalizations of the membrane potential: the paper's baselines.

use crate::functional::Clock;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig};
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
    /// (statistics, γ and β) for every one of `num_steps` time steps; statistics per channel
    /// over batch and space. The input must have exactly `num_steps` steps.
    Bntt {
        /// Time steps (one normalization each).
        num_steps: usize,
    },
    /// Threshold-dependent batch normalization (\[33\], Zheng et al. 2021): statistics as `Bn`,
    /// `y = λ·α·θ·(v − μ)/sqrt(σ² + ε) + β`. Implemented as `Bn` with `γ = λ·α·θ` initialized
    /// to `α·θ`.
    TdBn,
}

/// Configuration of a [`MembraneNorm`].
#[derive(Config, Debug)]
pub struct MembraneNormConfig {
    /// The normalization.
    pub kind: MembraneNormKind,
    /// Channels (dim 2 of the input).
    pub num_features: usize,
    /// `α·θ` of tdBN (ignored by the others). Default: 10 (α = 1, θ = 10).
    #[config(default = 10.0)]
    pub threshold_scale: f64,
    /// ε of the variance. Default: 1e-5.
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// Momentum of the running statistics. Default: 0.1.
    #[config(default = 0.1)]
    pub momentum: f64,
}

/// Batch normalization of the membrane potential `v` (see [`MembraneNormKind`]).
#[derive(Module, Debug)]
pub struct MembraneNorm {
    /// The normalization: `num_features` channels, or `num_steps · num_features` for `Bntt`.
    pub bn: BatchNorm,
    /// The kind.
    #[module(skip)]
    pub kind: MembraneNormKind,
    /// Channels.
    pub num_features: usize,
}

impl MembraneNormConfig {
    /// Initializes the normalization.
    ///
    /// # Panics
    ///
    /// If `num_features` is 0, or `num_steps` is 0 for `Bntt`.
    pub fn init(&self, device: &Device) -> MembraneNorm {
        assert!(
            self.num_features > 0,
            "MembraneNormConfig: num_features must be > 0"
        );
        let features = match self.kind {
            MembraneNormKind::Bntt { num_steps } => {
                assert!(
                    num_steps > 0,
                    "MembraneNormConfig: Bntt needs num_steps > 0 (one normalization per time step)"
                );
                num_steps * self.num_features
            }
            MembraneNormKind::Bn | MembraneNormKind::TdBn => self.num_features,
        };
        let mut bn = BatchNormConfig::new(features)
            .with_epsilon(self.epsilon)
            .with_momentum(self.momentum)
            .init(device);
        if self.kind == MembraneNormKind::TdBn {
            bn.gamma = Param::from_tensor(
                Tensor::ones([features], device).mul_scalar(self.threshold_scale),
            );
        }
        MembraneNorm {
            bn,
            kind: self.kind,
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
        self.bn.forward(v.reshape(folded)).reshape(dims)
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
        let features = start * c..(start + k) * c;
        let device = v.device();
        let bn = &self.bn;
        burn::tensor::module::batch_norm(
            v.reshape([b, k * c, rest]),
            bn.gamma.val().slice([features.clone()]),
            bn.beta.val().slice([features.clone()]),
            bn.running_mean
                .value()
                .to_device(&device)
                .slice([features.clone()]),
            bn.running_var.value().to_device(&device).slice([features]),
            bn.epsilon,
        )
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
