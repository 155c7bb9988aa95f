//! burn-snn's classifiers in burn-train's engine (feature `train`): [`SnnClassifier`]
//! implements `TrainStep` and `InferenceStep`, so Burn's `Learner` and `SupervisedTraining`
//! train it with Burn's checkpointers, metrics, renderers and execution strategies
//! (single device, `MultiDevice`, DDP).
//!
//! ```no_run
//! use std::sync::Arc;
//! use burn::train::{Learner, SupervisedTraining, metric::{AccuracyMetric, LossMetric}};
//! use burn_snn::data::{SaccadeShapes, SpikeData, SpikeDataLoader};
//! use burn_snn::model::SnnModelConfig;
//! use burn_snn::neuron::LayerSettings;
//! use burn_snn::optim::AdaBeliefConfig;
//! use burn_snn::train::{LossKind, SnnClassifierConfig};
//!
//! let device = burn_snn::device::cpu().autodiff();
//! let train: Arc<dyn SpikeData> = Arc::new(SaccadeShapes::new(800, 1));
//! let valid: Arc<dyn SpikeData> = Arc::new(SaccadeShapes::new(200, 2));
//! let model = SnnModelConfig::new("16x16x2-n8c3-p2-n16c3-p2-n4".parse().unwrap(), [2, 16, 16], 4)
//!     .with_settings(LayerSettings::new().with_num_steps(40));
//! let classifier = SnnClassifierConfig::new(model, LossKind::DEFAULT_SPIKE_COUNT).init(&device);
//! let result = SupervisedTraining::new(
//!     "/tmp/burn-snn-learner",
//!     Arc::new(SpikeDataLoader::train(train, 16, 0, 7, 0, &device)),
//!     Arc::new(SpikeDataLoader::eval(valid, 16, &device.clone().inner())),
//! )
//! .metrics((AccuracyMetric::new(), LossMetric::new()))
//! .num_epochs(3)
//! .launch(Learner::new(classifier, AdaBeliefConfig::new().init(), 1e-2));
//! let trained = result.model;
//! ```

use super::{LossKind, first_non_finite};
use crate::data::SpikeBatch;
use crate::model::{ModelError, SnnModel, SnnModelConfig, spike_counts};
use burn::config::Config;
use burn::module::Module;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{GradientsParams, ModuleOptimizer, MultiGradientsParams};
use burn::tensor::{Device, ExecutionError, Int, Tensor};
use burn::train::metric::{AccuracyInput, Adaptor, LossInput};
use burn::train::{InferenceStep, Interrupter, ItemLazy, TrainOutput, TrainStep};
use std::sync::{Arc, Mutex};

/// Configuration of an [`SnnClassifier`].
#[derive(Config, Debug)]
pub struct SnnClassifierConfig {
    /// The network.
    pub model: SnnModelConfig,
    /// The loss; spike-count targets scale with the model's `settings.num_steps`.
    pub loss: LossKind,
}

impl SnnClassifierConfig {
    /// Builds the classifier.
    ///
    /// # Panics
    ///
    /// If the model cannot be built (see [`SnnModelConfig::try_init`]).
    pub fn init(&self, device: &Device) -> SnnClassifier {
        self.try_init(device)
            .unwrap_or_else(|e| panic!("SnnClassifierConfig::init: {e}"))
    }

    /// Builds the classifier, or says why the model cannot be built.
    pub fn try_init(&self, device: &Device) -> Result<SnnClassifier, ModelError> {
        Ok(SnnClassifier {
            model: self.model.try_init(device)?,
            loss: self.loss,
            steps: self.model.settings.num_steps,
            guard: NonFiniteGuard::default(),
        })
    }
}

/// What an [`SnnClassifier`] does when a parameter or gradient is not finite before an
/// optimizer step: panic (the default), or — once [`SnnClassifier::stop_with`] gave it an
/// [`Interrupter`] — skip the update, record the parameter and stop the run through the
/// interrupter, so that `SupervisedTraining::launch` returns normally and the caller can report
/// the failure (see [`NonFiniteGuard::found`]).
#[derive(Clone, Default)]
pub struct NonFiniteGuard {
    interrupter: Option<Interrupter>,
    found: Arc<Mutex<Option<String>>>,
}

impl NonFiniteGuard {
    /// The first non-finite parameter found (module path, and whether its value or its
    /// gradient), if a step was refused.
    pub fn found(&self) -> Option<String> {
        self.found.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn check(&self, model: &SnnClassifier, grads: &GradientsParams) -> bool {
        let Some(param) = first_non_finite(model, grads) else {
            return true;
        };
        let message = format!("non-finite value before the optimizer step: {param}");
        let Some(interrupter) = &self.interrupter else {
            panic!("{message}");
        };
        self.found
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(param);
        interrupter.stop(Some(&message));
        false
    }
}

impl std::fmt::Debug for NonFiniteGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonFiniteGuard")
            .field("stops_through_interrupter", &self.interrupter.is_some())
            .field("found", &self.found())
            .finish()
    }
}

/// A network and its loss: burn-train's `TrainStep` and `InferenceStep` on [`SpikeBatch`]es.
///
/// Each step returns a [`SpikeClassificationOutput`] (loss, spike counts as logits, labels,
/// per-layer firing rates) for Burn's `AccuracyMetric`, `LossMetric` and this crate's
/// [`FiringRateMetric`](super::FiringRateMetric). Before each update the parameters and gradients are checked for NaN
/// and infinity with one fused reduction; a non-finite value stops the run naming the
/// parameter: with a panic, or through an interrupter ([`stop_with`](Self::stop_with)).
///
/// ```
/// use burn_snn::data::{SaccadeShapes, SpikeData, SpikeDataLoader};
/// use burn_snn::model::SnnModelConfig;
/// use burn_snn::neuron::LayerSettings;
/// use burn_snn::train::{LossKind, SnnClassifierConfig};
/// use burn::data::dataloader::DataLoader;
/// use burn::train::TrainStep;
/// use std::sync::Arc;
///
/// let device = burn_snn::device::cpu().autodiff();
/// let model = SnnModelConfig::new("16x16x2-n4c3-p2-n4".parse().unwrap(), [2, 16, 16], 4)
///     .with_settings(LayerSettings::new().with_num_steps(20));
/// let classifier = SnnClassifierConfig::new(model, LossKind::DEFAULT_SPIKE_COUNT).init(&device);
/// // One training step by hand (Burn's `Learner` does this in a run).
/// let data: Arc<dyn SpikeData> = Arc::new(SaccadeShapes::new(8, 1));
/// let loader = SpikeDataLoader::train(data, 4, 0, 7, 0, &device);
/// let batch = loader.iter().next().unwrap().unwrap();
/// let output = classifier.step(batch);
/// # let _ = output;
/// ```
#[derive(Module, Debug)]
pub struct SnnClassifier {
    /// The network.
    pub model: SnnModel,
    /// The loss.
    #[module(skip)]
    pub loss: LossKind,
    /// The window `T` the spike-count targets scale with.
    pub steps: usize,
    /// What a non-finite value before an update does.
    #[module(skip)]
    pub guard: NonFiniteGuard,
}

impl SnnClassifier {
    /// Refuse updates with a non-finite parameter or gradient by stopping the run through
    /// `interrupter` (the one given to `SupervisedTraining::with_interrupter`) instead of
    /// panicking; the parameter is then in [`NonFiniteGuard::found`].
    pub fn stop_with(mut self, interrupter: Interrupter) -> Self {
        self.guard = NonFiniteGuard {
            interrupter: Some(interrupter),
            found: Arc::default(),
        };
        self
    }

    /// The step's output: forward with firing rates, loss, counts.
    pub fn forward_classification(&self, batch: SpikeBatch) -> SpikeClassificationOutput {
        let (out, rates) = self.model.forward_with_rates(batch.spikes);
        let loss = self
            .loss
            .forward(out.clone(), batch.labels.clone(), self.steps);
        let (names, rates) = rates.into_parts();
        SpikeClassificationOutput {
            loss,
            counts: spike_counts(out),
            targets: batch.labels,
            rates,
            names: Arc::new(names),
        }
    }
}

impl TrainStep for SnnClassifier {
    type Input = SpikeBatch;
    type Output = SpikeClassificationOutput;

    fn step(&self, batch: SpikeBatch) -> TrainOutput<SpikeClassificationOutput> {
        let item = self.forward_classification(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }

    fn optimize(
        self,
        optim: &mut ModuleOptimizer,
        lr: ModuleLearningRate,
        grads: GradientsParams,
    ) -> Self {
        if !self.guard.check(&self, &grads) {
            return self;
        }
        optim.step(lr, self, grads)
    }

    fn optimize_multi(
        self,
        optim: &mut ModuleOptimizer,
        lr: ModuleLearningRate,
        grads: MultiGradientsParams,
    ) -> Self {
        for (grads, _) in &grads.grads {
            if !self.guard.check(&self, grads) {
                return self;
            }
        }
        optim.step_multi(lr, self, grads)
    }
}

impl InferenceStep for SnnClassifier {
    type Input = SpikeBatch;
    type Output = SpikeClassificationOutput;

    fn step(&self, batch: SpikeBatch) -> SpikeClassificationOutput {
        self.forward_classification(batch)
    }
}

/// What a step of an [`SnnClassifier`] reports to burn-train's metrics.
pub struct SpikeClassificationOutput {
    /// The loss, `[1]`.
    pub loss: Tensor<1>,
    /// Output spike counts, `[batch, classes]` (the logits of accuracy metrics).
    pub counts: Tensor<2>,
    /// Labels, `[batch]`.
    pub targets: Tensor<1, Int>,
    /// Mean firing rate of every spiking layer, `[1]` each, detached.
    pub rates: Vec<Tensor<1>>,
    /// The layers' names, in the order of `rates`.
    pub names: Arc<Vec<String>>,
}

impl ItemLazy for SpikeClassificationOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            counts: self.counts.without_autodiff(),
            targets: self.targets.without_autodiff(),
            rates: self
                .rates
                .into_iter()
                .map(|r| r.without_autodiff())
                .collect(),
            names: self.names,
        })
    }
}

impl Adaptor<AccuracyInput> for SpikeClassificationOutput {
    fn adapt(&self) -> AccuracyInput {
        AccuracyInput::new(self.counts.clone(), self.targets.clone())
    }
}

impl Adaptor<LossInput> for SpikeClassificationOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SaccadeShapes;
    use crate::data::SpikeData;
    use crate::optim::AdaBeliefConfig;

    fn classifier(device: &Device) -> SnnClassifier {
        let model = SnnModelConfig::new("16x16x2-n4c3-p4-n4".parse().unwrap(), [2, 16, 16], 4);
        SnnClassifierConfig::new(model, LossKind::DEFAULT_SPIKE_COUNT).init(device)
    }

    #[test]
    fn a_step_reports_loss_counts_and_every_layers_rate() {
        let device = crate::test_util::device().autodiff();
        let clf = classifier(&device);
        let batch = SaccadeShapes::new(6, 1).batch(&[0, 1, 2], &device).unwrap();
        let out = TrainStep::step(&clf, batch);
        assert_eq!(out.item.counts.dims(), [3, 4]);
        assert_eq!(out.item.rates.len(), 2);
        assert_eq!(*out.item.names, ["layer1", "output"]);
        assert!(out.item.loss.into_scalar::<f64>().is_finite());
    }

    #[test]
    #[should_panic(expected = "non-finite value before the optimizer step: model.Plain.layers.0")]
    fn the_optimizer_step_refuses_a_nan_gradient() {
        let device = crate::test_util::device().autodiff();
        let clf = classifier(&device);
        let batch = SaccadeShapes::new(6, 1).batch(&[0, 1], &device).unwrap();
        let item = clf.forward_classification(batch);
        let grads = GradientsParams::from_grads(item.loss.mul_scalar(f64::NAN).backward(), &clf);
        let mut optim = AdaBeliefConfig::new().init();
        let _ = clf.optimize(&mut optim, 1e-2.into(), grads);
    }
}
