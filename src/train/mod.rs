//! Training runs on burn-train's engine (feature `train`): `SnnClassifier` for Burn's
//! `Learner`, the per-layer `FiringRateMetric`, and `train` — one experiment on
//! `SupervisedTraining` with the run directory the examples write (configuration, metrics CSV,
//! plots, best model, result) and `--resume` through Burn's checkpoints.
//!
//! [`ExperimentConfig`], [`LossKind`] and the finiteness checks do not need burn-train and are
//! available without the feature.

mod experiment;
mod finite;
#[cfg(feature = "train")]
mod learner;
#[cfg(feature = "train")]
mod metric;
#[cfg(feature = "train")]
mod monitor;
#[cfg(feature = "train")]
mod plot;
#[cfg(feature = "train")]
mod run;

pub use experiment::{ExperimentConfig, LossKind, OptimizerKind};
pub use finite::{all_finite, first_non_finite};
#[cfg(feature = "train")]
pub use learner::{NonFiniteGuard, SnnClassifier, SnnClassifierConfig, SpikeClassificationOutput};
#[cfg(feature = "train")]
pub use metric::{FiringRateInput, FiringRateMetric};
#[cfg(feature = "train")]
pub use monitor::RunMonitor;
#[cfg(feature = "train")]
pub use plot::{Series, XAxis};
#[cfg(feature = "train")]
pub use run::{
    EpochRecord, Evaluation, MultiDeviceStrategy, RunOptions, RunReport, TrainError, train,
    write_chart,
};
