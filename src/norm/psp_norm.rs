//! PSP normalization as a module (the paper's eq. 19–20).

use crate::functional::{
    CausalLayerNorm, Clock, PspNormKind, check_psp_norm, psp_moment, psp_norm_with_moment,
    psp_second_moment,
};
use burn::config::Config;
use burn::module::{Flag, Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

/// Configuration of a [`PspNorm`] layer.
#[derive(Config, Debug)]
pub struct PspNormConfig {
    /// Batch (PSP-BN) or layer (PSP-LN) statistics.
    pub kind: PspNormKind,
    /// Number of channels (dim 2 of the input).
    pub num_features: usize,
    /// λ of `â = a / sqrt(E_X[a²] + λ)`. Default: 0.1 (the paper's value).
    #[config(default = 0.1)]
    pub lambda: f64,
    /// Weight of a new batch statistic in the running average used at inference by `Batch`:
    /// `m ← (1 − momentum)·m + momentum·E_X[a²]`. Default: 0.1.
    #[config(default = 0.1)]
    pub momentum: f64,
}

/// PSP normalization (Ikegawa et al., 2022, eq. 19–20), applied to the PSP before a synapse:
///
/// `â = a / sqrt(E_X[a²] + λ)`
///
/// Where:
/// - `a` is the PSP of the previous layer's spikes;
/// - `E_X[a²]` is the second raw moment over `X` (no mean subtraction, no affine transform);
/// - `λ` keeps the division defined for silent inputs.
///
/// With [`PspNormKind::Batch`], training (an autodiff device with `training` enabled) uses the
/// batch statistic and updates a running average of it; inference uses the running average,
/// as Burn's `BatchNorm` does. [`PspNormKind::Layer`] uses each sample's own statistic in both,
/// and training keeps the running average of the samples' statistic for streaming, where the
/// whole sequence is not known ([`CausalLayerNorm::Trained`]).
#[derive(Module, Debug)]
pub struct PspNorm {
    /// Running average of `E_X[a²]`, tensor of shape `[num_features]`: per channel for PSP-BN,
    /// the samples' statistic (the same in every entry) for PSP-LN. Starts at 1.
    pub running_moment: RunningState<Tensor<1>>,
    /// Whether to use batch statistics (and update the running average) on an autodiff device.
    pub training: Param<Flag>,
    /// Number of channels (dim 2 of the input).
    pub num_features: usize,
    /// Batch or layer statistics.
    #[module(skip)]
    pub kind: PspNormKind,
    /// λ of the equation.
    pub lambda: f64,
    /// Momentum of the running average.
    pub momentum: f64,
}

impl PspNormConfig {
    /// Initializes a [`PspNorm`] layer.
    ///
    /// # Panics
    ///
    /// If `num_features` is 0, `lambda` is not finite and positive, or `momentum` is not in
    /// `[0, 1]`.
    pub fn init(&self, device: &Device) -> PspNorm {
        assert!(
            self.num_features > 0,
            "PspNormConfig: num_features must be > 0, got 0"
        );
        assert!(
            self.lambda.is_finite() && self.lambda > 0.0,
            "PspNormConfig: lambda must be finite and > 0, got {}",
            self.lambda
        );
        assert!(
            (0.0..=1.0).contains(&self.momentum),
            "PspNormConfig: momentum must be within [0, 1], got {}",
            self.momentum
        );
        PspNorm {
            running_moment: RunningState::new(Tensor::ones([self.num_features], device)),
            training: Param::from_bool(true),
            num_features: self.num_features,
            kind: self.kind,
            lambda: self.lambda,
            momentum: self.momentum,
        }
    }
}

impl PspNorm {
    /// Normalizes the PSP: `a / sqrt(m + λ)` with `m` from [`moment`](Self::moment).
    ///
    /// # Shapes
    ///
    /// - `a`: `[batch, time, num_features, ...]` (rank ≥ 3)
    /// - output: same as `a`
    ///
    /// # Panics
    ///
    /// If the rank is below 3, a dim is empty, or dim 2 is not `num_features`.
    #[track_caller]
    pub fn forward<const D: usize>(&self, a: Tensor<D>) -> Tensor<D> {
        let moment = self.moment(a.clone());
        psp_norm_with_moment(a, moment, self.lambda)
    }

    /// The second moment `m = E_X[a²]` the normalization divides by: the batch statistic in
    /// training (an autodiff device with `training` enabled; `Batch` then updates its running
    /// average), the running average in inference (`Batch`), each sample's own (`Layer`).
    ///
    /// # Shapes
    ///
    /// - `a`: `[batch, time, num_features, ...]` (rank ≥ 3)
    /// - output: `[1, 1, num_features, 1, ...]` (`Batch`) or `[batch, 1, ...]` (`Layer`)
    ///
    /// # Panics
    ///
    /// As [`forward`](Self::forward).
    #[track_caller]
    pub fn moment<const D: usize>(&self, a: Tensor<D>) -> Tensor<D> {
        let dims = a.dims();
        self.check(&dims);
        let device = a.device();
        let kind = self.kind;
        self.select(&dims, &device, || {
            let moment = psp_second_moment(a, kind);
            match kind {
                PspNormKind::Batch => moment.reshape([dims[2]]),
                PspNormKind::Layer => moment.reshape([dims[0]]),
            }
        })
    }

    /// [`moment`](Self::moment) of the PSP `Pool(ε ∗ s)` of spikes `s`, computed from the
    /// spikes so that autodiff keeps them (as bits when `binary`: `s` holds only 0 and 1)
    /// instead of the PSP (one pass that never writes the PSP). Needs a CPU backend.
    ///
    /// # Shapes
    ///
    /// - `s`: `[batch, time, num_features, ...]` (rank 5 when `pool > 1`)
    /// - output: as [`moment`](Self::moment)
    #[track_caller]
    pub fn moment_of_spikes<const D: usize>(
        &self,
        s: Tensor<D>,
        tau_s: f64,
        pool: usize,
        binary: bool,
    ) -> Tensor<D> {
        let mut dims = s.dims();
        self.check(&dims);
        if pool > 1 && D == 5 {
            dims[3] /= pool;
            dims[4] /= pool;
        }
        let device = s.device();
        let kind = self.kind;
        self.select(&dims, &device, || psp_moment(s, tau_s, pool, kind, binary))
    }

    /// Whether [`stream_moment`](Self::stream_moment) needs the chunk's PSP (PSP-LN's running
    /// form).
    pub(crate) fn stream_needs_psp(&self, clock: &Clock) -> bool {
        self.kind == PspNormKind::Layer
            && matches!(clock.layer_norm(), Some(CausalLayerNorm::Running))
    }

    /// The statistic on a stream, causal: PSP-BN's running moment (as at inference), or
    /// PSP-LN's causal form ([`CausalLayerNorm`]): the running moment of `a` (the chunk's
    /// pooled PSP, `[batch, k, channels, ...]`, shaped `[batch, k, 1, ...]`: it changes every
    /// step) or the calibrated constant (`[batch, 1, ...]`). `s` is the chunk's spikes.
    ///
    /// Returns the moment and whether it changes from step to step.
    pub(crate) fn stream_moment<const D: usize>(
        &self,
        a: Option<Tensor<D>>,
        s: &Tensor<D>,
        clock: &mut Clock,
    ) -> (Tensor<D>, bool) {
        let dims = s.dims();
        self.check(&dims);
        let mut shape = [1usize; D];
        match (self.kind, clock.layer_norm()) {
            (PspNormKind::Batch, _) | (_, None) => {
                shape[2] = self.num_features;
                let moment = self.running_moment.value().to_device(&s.device());
                (moment.reshape(shape), false)
            }
            (PspNormKind::Layer, Some(CausalLayerNorm::Running)) => {
                let a = a.expect("the running PSP-LN moment needs the PSP");
                let dims = a.dims();
                let (b, k) = (dims[0], dims[1]);
                let neurons: usize = dims[2..].iter().product();
                let flat = a.reshape([b, k, neurons]);
                let per_step: Tensor<2> = (flat.clone() * flat).sum_dim(2).reshape([b, k]);
                let start = clock.start();
                let sums = clock.running_sum(per_step);
                // Elements seen after each step of the chunk: (start + t + 1)·neurons.
                let counts = Tensor::<1, burn::tensor::Int>::arange(
                    (start as i64 + 1)..(start + k) as i64 + 1,
                    &sums.device(),
                )
                .float()
                .cast(sums.dtype())
                .mul_scalar(neurons as f64)
                .reshape([1, k]);
                shape[0] = b;
                shape[1] = k;
                ((sums / counts).reshape(shape), true)
            }
            (PspNormKind::Layer, Some(CausalLayerNorm::Trained)) => {
                // The running average kept in training (the same value in every entry).
                let moment = self.running_moment.value().to_device(&s.device()).mean();
                shape[0] = dims[0];
                let ones = Tensor::<D>::ones(shape, (&s.device(), s.dtype()));
                (ones * moment.cast(s.dtype()).reshape([1; D]), false)
            }
            (PspNormKind::Layer, Some(CausalLayerNorm::Calibrated(_))) => {
                let moment = clock.calibrated_moment();
                shape[0] = dims[0];
                let options = (&s.device(), s.dtype());
                (Tensor::<D>::full(shape, moment, options), false)
            }
        }
    }

    #[track_caller]
    fn check(&self, dims: &[usize]) {
        assert!(
            dims.len() >= 3,
            "PspNorm: expected a tensor of shape [batch, time, channels, ...] (rank >= 3), got rank {} with shape {dims:?}",
            dims.len()
        );
        check_psp_norm("PspNorm", dims, self.kind, self.lambda);
        let channels = self.num_features;
        assert!(
            dims[2] == channels,
            "PspNorm: expected {channels} channels in dim 2, got shape {dims:?}"
        );
    }

    /// Moves the running average towards `observed` (`[num_features]`) by the momentum.
    fn update_running(&self, observed: Tensor<1>, device: &Device) {
        super::update_running(&self.running_moment, observed, self.momentum, device);
    }

    /// The moment to use for an input of shape `dims`, from `batch` (the batch statistic,
    /// `[channels]` or `[batch]`) or the running average, shaped to broadcast.
    fn select<const D: usize>(
        &self,
        dims: &[usize; D],
        device: &Device,
        batch: impl FnOnce() -> Tensor<1>,
    ) -> Tensor<D> {
        let training = device.is_autodiff() && self.training.is_enabled();
        let channels = self.num_features;
        let mut shape = [1usize; D];
        match (self.kind, training) {
            (PspNormKind::Batch, false) => {
                shape[2] = channels;
                self.running_moment.value().to_device(device).reshape(shape)
            }
            (PspNormKind::Batch, true) => {
                let moment = batch();
                self.update_running(moment.clone(), device);
                shape[2] = channels;
                moment.reshape(shape)
            }
            (PspNormKind::Layer, false) => {
                shape[0] = dims[0];
                batch().reshape(shape)
            }
            (PspNormKind::Layer, true) => {
                // The samples' statistic is used as it is; its running average over the
                // batches (every entry of `running_moment` holds it) is PSP-LN's causal form
                // for streaming (`CausalLayerNorm::Trained`).
                let moment = batch();
                self.update_running(moment.clone().detach().mean().expand([channels]), device);
                shape[0] = dims[0];
                moment.reshape(shape)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functional::psp_norm;
    use crate::test_util::*;

    #[test]
    fn training_uses_batch_statistics_and_updates_the_running_average() {
        let device = device().autodiff();
        let norm = PspNormConfig::new(PspNormKind::Batch, 2)
            .with_momentum(0.5)
            .init(&device);
        // Channel 0 holds 2s, channel 1 holds 4s: second moments 4 and 16.
        let a = tensor_f32(&[2.0, 4.0, 2.0, 4.0, 2.0, 4.0], [1, 3, 2], &device);
        let out = to_f64(norm.forward(a.clone()));
        let want = to_f64(psp_norm(a, PspNormKind::Batch, 0.1));
        assert_close(&out, &want, 1e-6, "output");
        // m = 0.5·1 + 0.5·moment.
        let running = to_f64(norm.running_moment.value_sync());
        assert_close(&running, &[2.5, 8.5], 1e-6, "running");
    }

    /// PSP-LN trains on each sample's statistic and keeps the running average of their mean
    /// (in every entry) for streaming.
    #[test]
    fn layer_kind_training_keeps_the_running_average_of_the_samples_statistic() {
        let device = device().autodiff();
        let norm = PspNormConfig::new(PspNormKind::Layer, 2)
            .with_momentum(0.5)
            .init(&device);
        // Sample 0 holds 2s (moment 4), sample 1 holds 4s (moment 16): mean 10.
        let a = tensor_f32(
            &[2.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 4.0],
            [2, 2, 2],
            &device,
        );
        let out = to_f64(norm.forward(a.clone()));
        let want = to_f64(psp_norm(a, PspNormKind::Layer, 0.1));
        assert_close(&out, &want, 1e-6, "output");
        let running = to_f64(norm.running_moment.value_sync());
        assert_close(&running, &[5.5, 5.5], 1e-6, "running");
    }

    #[test]
    fn inference_uses_the_running_average() {
        let device = device();
        let mut norm = PspNormConfig::new(PspNormKind::Batch, 2).init(&device);
        norm.running_moment = RunningState::new(tensor_f32(&[3.9, 0.9], [2], &device));
        let a = tensor_f32(&[2.0, 1.0, 2.0, 1.0], [2, 1, 2], &device);
        let out = to_f64(norm.forward(a));
        assert_close(&out, &[1.0, 1.0, 1.0, 1.0], 1e-6, "output");
    }

    #[test]
    fn layer_kind_uses_per_sample_statistics_in_inference() {
        let device = device();
        let norm = PspNormConfig::new(PspNormKind::Layer, 3).init(&device);
        let a = random_values(2 * 4 * 3 * 5, 6);
        let t = tensor_f64(a.clone(), [2, 4, 3, 5], &device);
        let want = to_f64(psp_norm(t.clone(), PspNormKind::Layer, 0.1));
        assert_close(&to_f64(norm.forward(t)), &want, 1e-12, "layer");
    }

    #[test]
    #[should_panic(expected = "PspNorm: expected 3 channels in dim 2, got shape [2, 4, 5]")]
    fn wrong_channel_count_panics() {
        let norm = PspNormConfig::new(PspNormKind::Batch, 3).init(&device());
        norm.forward(Tensor::<3>::zeros([2, 4, 5], &device()));
    }

    #[test]
    #[should_panic(expected = "PspNormConfig: lambda must be finite and > 0, got 0")]
    fn zero_lambda_panics() {
        PspNormConfig::new(PspNormKind::Layer, 3)
            .with_lambda(0.0)
            .init(&device());
    }
}
