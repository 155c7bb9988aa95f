//! AdaBelief (Zhuang et al., NeurIPS 2020), the paper's optimizer (Table 1: lr 1e-2, weight
//! decay 1e-4).

use burn::config::Config;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};
use burn_pack::Scalar;
use serde::{Deserialize, Serialize};

/// How weight decay enters the update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeightDecayMode {
    /// Decoupled (AdamW-style, AdaBelief's default): `θ ← θ·(1 − lr·wd)` before the step.
    Decoupled,
    /// L2 regularization: `g ← g + wd·θ` before the moments.
    L2,
}

/// Configuration of [`AdaBelief`].
#[derive(Config, Debug)]
pub struct AdaBeliefConfig {
    /// β1, decay of the gradient mean. Default: 0.9.
    #[config(default = 0.9)]
    pub beta_1: f64,
    /// β2, decay of the "belief" (variance of the gradient around its mean). Default: 0.999.
    #[config(default = 0.999)]
    pub beta_2: f64,
    /// ε, added to the belief every step and to its square root. Default: 1e-16 (the
    /// reference implementation's).
    #[config(default = 1e-16)]
    pub epsilon: f64,
    /// Weight decay. Default: 0 (the paper trains with 1e-4).
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// How the weight decay is applied. Default: decoupled.
    #[config(default = "WeightDecayMode::Decoupled")]
    pub weight_decay_mode: WeightDecayMode,
}

/// The AdaBelief optimizer.
///
/// With gradient `g_t` (plus `wd·θ` in L2 mode):
///
/// - `m_t = β1·m_{t−1} + (1 − β1)·g_t`
/// - `s_t = β2·s_{t−1} + (1 − β2)·(g_t − m_t)² + ε`
/// - `m̂_t = m_t / (1 − β1^t)`, `ŝ_t = s_t / (1 − β2^t)`
/// - `θ_t = θ_{t−1}·(1 − lr·wd)` (decoupled mode only), then `θ_t ← θ_t − lr·m̂_t / (√ŝ_t + ε)`
#[derive(Clone, Debug)]
pub struct AdaBelief {
    config: AdaBeliefConfigValues,
}

#[derive(Clone, Copy, Debug)]
struct AdaBeliefConfigValues {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    weight_decay: f64,
    mode: WeightDecayMode,
}

/// Per-parameter state of [`AdaBelief`].
#[derive(Clone, Debug)]
pub struct AdaBeliefState<const D: usize> {
    /// Steps taken.
    pub time: usize,
    /// First moment `m_t`.
    pub moment: Tensor<D>,
    /// Belief `s_t`.
    pub belief: Tensor<D>,
}

impl AdaBeliefConfig {
    /// The optimizer.
    ///
    /// # Panics
    ///
    /// If a β is outside `[0, 1)`, ε is negative, or the weight decay is negative.
    pub fn build(&self) -> AdaBelief {
        for (name, beta) in [("beta_1", self.beta_1), ("beta_2", self.beta_2)] {
            assert!(
                (0.0..1.0).contains(&beta),
                "AdaBeliefConfig: {name} must be within [0, 1), got {beta}"
            );
        }
        assert!(
            self.epsilon >= 0.0,
            "AdaBeliefConfig: epsilon must be >= 0, got {}",
            self.epsilon
        );
        assert!(
            self.weight_decay >= 0.0,
            "AdaBeliefConfig: weight_decay must be >= 0, got {}",
            self.weight_decay
        );
        AdaBelief {
            config: AdaBeliefConfigValues {
                beta_1: self.beta_1,
                beta_2: self.beta_2,
                epsilon: self.epsilon,
                weight_decay: self.weight_decay,
                mode: self.weight_decay_mode,
            },
        }
    }

    /// A module optimizer, as `AdamConfig::init` gives.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }
}

impl Optimizer for AdaBelief {
    type State<const D: usize> = AdaBeliefState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let c = self.config;
        let grad = match c.mode {
            WeightDecayMode::L2 if c.weight_decay > 0.0 => {
                grad + tensor.clone().mul_scalar(c.weight_decay)
            }
            _ => grad,
        };
        let (time, moment, belief) = match state {
            Some(s) => (
                s.time + 1,
                s.moment.mul_scalar(c.beta_1) + grad.clone().mul_scalar(1.0 - c.beta_1),
                Some(s.belief),
            ),
            None => (1, grad.clone().mul_scalar(1.0 - c.beta_1), None),
        };
        let deviation = grad - moment.clone();
        let fresh = (deviation.clone() * deviation)
            .mul_scalar(1.0 - c.beta_2)
            .add_scalar(c.epsilon);
        let belief = match belief {
            Some(b) => b.mul_scalar(c.beta_2) + fresh,
            None => fresh,
        };
        let t = time as i32;
        let m_hat = moment.clone().div_scalar(1.0 - c.beta_1.powi(t));
        let s_hat = belief.clone().div_scalar(1.0 - c.beta_2.powi(t));
        let tensor = match c.mode {
            WeightDecayMode::Decoupled if c.weight_decay > 0.0 => {
                tensor.mul_scalar(1.0 - lr * c.weight_decay)
            }
            _ => tensor,
        };
        let update = m_hat.div(s_hat.sqrt().add_scalar(c.epsilon)).mul_scalar(lr);
        (
            tensor - update,
            Some(AdaBeliefState {
                time,
                moment,
                belief,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdaBeliefState {
            time: state.time,
            moment: state.moment.to_device(device),
            belief: state.belief.to_device(device),
        }
    }
}

impl<const D: usize> RecordState for AdaBeliefState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_scalar(prefix, "time", Scalar::UInt(self.time as u64));
        out.push_tensor(prefix, "moment", self.moment.to_data());
        out.push_tensor(prefix, "belief", self.belief.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let time = match src.take_scalar(prefix, "time")? {
            Scalar::UInt(t) => t as usize,
            Scalar::Int(t) => usize::try_from(t).ok()?,
            _ => return None,
        };
        let moment = Tensor::from_data(src.take_tensor(prefix, "moment")?, device);
        let belief = Tensor::from_data(src.take_tensor(prefix, "belief")?, device);
        Some(Self {
            time,
            moment,
            belief,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    /// Two steps on `θ = [1, −2]` with gradients `[0.5, 0.1]` then `[−0.3, 0.4]`, by hand in f64.
    fn by_hand(wd: f64, mode: WeightDecayMode) -> Vec<f64> {
        let (b1, b2, eps, lr) = (0.9, 0.999, 1e-8, 0.01);
        let mut theta = [1.0, -2.0];
        let (mut m, mut s) = ([0.0; 2], [0.0; 2]);
        for (t, g) in [[0.5, 0.1], [-0.3, 0.4]].iter().enumerate() {
            let t = t as i32 + 1;
            for i in 0..2 {
                let g = if mode == WeightDecayMode::L2 {
                    g[i] + wd * theta[i]
                } else {
                    g[i]
                };
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                s[i] = b2 * s[i] + (1.0 - b2) * (g - m[i]).powi(2) + eps;
                let m_hat = m[i] / (1.0 - b1.powi(t));
                let s_hat = s[i] / (1.0 - b2.powi(t));
                if mode == WeightDecayMode::Decoupled {
                    theta[i] *= 1.0 - lr * wd;
                }
                theta[i] -= lr * m_hat / (s_hat.sqrt() + eps);
            }
        }
        theta.to_vec()
    }

    #[test]
    fn two_steps_match_the_hand_computation() {
        let device = device();
        for (wd, mode) in [
            (0.0, WeightDecayMode::Decoupled),
            (0.1, WeightDecayMode::Decoupled),
            (0.1, WeightDecayMode::L2),
        ] {
            let opt = AdaBeliefConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(wd)
                .with_weight_decay_mode(mode)
                .build();
            let mut theta = tensor_f64(vec![1.0, -2.0], [2], &device);
            let mut state = None;
            for g in [[0.5, -0.3], [0.1, 0.4]]
                .iter()
                .map(|_| ())
                .zip([[0.5, 0.1], [-0.3, 0.4]])
                .map(|(_, g)| g)
            {
                let (next, s) = opt.step(0.01, theta, tensor_f64(g.to_vec(), [2], &device), state);
                theta = next;
                state = s;
            }
            assert_close(
                &to_f64(theta),
                &by_hand(wd, mode),
                1e-12,
                &format!("{mode:?} wd {wd}"),
            );
            assert_eq!(state.unwrap().time, 2);
        }
    }

    #[test]
    fn state_round_trips_through_record_state() {
        let device = device();
        let state = AdaBeliefState {
            time: 7,
            moment: tensor_f64(vec![0.25, -1.0], [2], &device),
            belief: tensor_f64(vec![3.0, 0.5], [2], &device),
        };
        let mut sink = StateSink::default();
        state.state_flatten("p", &mut sink);
        let mut src = StateSource::new(sink.scalars.into_iter().collect());
        for (name, data) in sink.tensors {
            src.insert_tensor(name, data);
        }
        let back = AdaBeliefState::<1>::state_unflatten("p", &mut src, &device).expect("state");
        assert_eq!(back.time, 7);
        assert_eq!(to_f64(back.moment), vec![0.25, -1.0]);
        assert_eq!(to_f64(back.belief), vec![3.0, 0.5]);
    }
}
