use super::monitor::Sums;
use super::plot::line_chart;
use super::{
    ExperimentConfig, FiringRateMetric, RunMonitor, Series, SnnClassifier, SnnClassifierConfig,
    XAxis,
};
use crate::data::{DataError, SpikeData, SpikeDataLoader};
use crate::model::ModelError;
use burn::config::Config;
use burn::data::dataloader::DataLoader;
use burn::module::Module;
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::tensor::{Device, Tensor};
use burn::train::checkpoint::{
    ComposedCheckpointingStrategy, KeepLastNCheckpoints, MetricCheckpointingStrategy,
};
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{AccuracyMetric, LossMetric, NumericEntry};
use burn::train::{
    EvaluatorBuilder, ExecutionStrategy, Interrupter, Learner, LearnerSummary, MultiDeviceOptim,
    SupervisedTraining,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading the data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The model could not be built.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A NaN or an infinity appeared in a parameter or gradient.
    #[error("non-finite value at epoch {epoch}, batch {batch}: {detail}")]
    NonFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// The parameter (module path) concerned.
        detail: String,
    },
    /// Burn's training engine stopped with an error (data loading, a metric, a checkpoint, a
    /// worker of a multi-device strategy), or was interrupted.
    #[error("training stopped: {0}")]
    Engine(String),
    /// Writing or reading the run directory failed.
    #[error("{}: {source}", path.display())]
    Files {
        /// The file.
        path: PathBuf,
        /// What went wrong: an `std::io::Error`, a JSON error, or Burn's record error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn files_err(
    path: &Path,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> TrainError {
    TrainError::Files {
        path: path.to_path_buf(),
        source: source.into(),
    }
}

/// Loss, accuracy and firing rates of one pass over data, as Burn's metrics aggregate them
/// (means over samples; the firing rates are means over batches).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean loss.
    pub loss: f64,
    /// Fraction of correct predictions.
    pub accuracy: f64,
    /// Samples seen.
    pub samples: usize,
    /// Mean firing rate of each spiking layer (spikes per neuron per step); training only.
    pub rates: Vec<(String, f64)>,
}

/// One epoch of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Training pass (with the weights changing during it).
    pub train: Evaluation,
    /// Validation after the epoch.
    pub valid: Evaluation,
    /// Wall time of the epoch (training and validation), seconds; NaN when the epoch ran in
    /// an earlier process whose times were not saved.
    pub seconds: f64,
}

impl EpochRecord {
    /// The epoch's per-layer training firing rates as a chart line named `name`, at x = 0, 1,
    /// 2, … (draw it with [`XAxis::Categories`] and the layer names).
    pub fn rate_series(&self, name: &str) -> Series {
        Series {
            name: name.to_string(),
            points: (self.train.rates.iter().enumerate())
                .map(|(j, (_, v))| (j as f64, *v))
                .collect(),
        }
    }
}

/// The outcome of [`train`], also written as `result.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// Every completed epoch, resumed ones included.
    pub history: Vec<EpochRecord>,
    /// The epoch with the best validation accuracy (the first of equals; 1-based).
    pub best_epoch: usize,
    /// Its validation accuracy.
    pub best_valid_accuracy: f64,
    /// Test evaluation of the best model, when test data was given.
    pub test: Option<Evaluation>,
}

/// Burn's strategy when a run has several devices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MultiDeviceStrategy {
    /// burn-train's `MultiDevice`: one batch per device per step, gradients gathered and the
    /// optimizer run on the first device.
    #[default]
    Multi,
    /// Distributed data parallel: a model copy per device, gradients all-reduced (mean) after
    /// each backward pass. CUDA devices only (Burn 0.22's collectives use NCCL); other devices
    /// are refused with [`TrainError::Engine`].
    Ddp,
}

impl std::str::FromStr for MultiDeviceStrategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "multi" => Ok(Self::Multi),
            "ddp" => Ok(Self::Ddp),
            _ => Err(format!("unknown strategy {s:?}; expected multi or ddp")),
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The run directory (created if needed).
    pub dir: PathBuf,
    /// Continue from the last checkpoint in `dir/checkpoint` if there is one; otherwise a run
    /// in an existing directory starts over (its logs and checkpoints are removed).
    pub resume: bool,
    /// Log a progress line (`log::info!`) every this many batches (0: only per epoch).
    pub progress_every: usize,
    /// The devices: one trains on that device; several train data-parallel with `strategy`.
    pub devices: Vec<Device>,
    /// Burn's strategy for several devices.
    pub strategy: MultiDeviceStrategy,
}

impl RunOptions {
    /// Train in `dir` on one device, without resuming, logging progress every 50 batches.
    pub fn new(dir: impl Into<PathBuf>, device: &Device) -> Self {
        Self {
            dir: dir.into(),
            resume: false,
            progress_every: 50,
            devices: vec![device.clone()],
            strategy: MultiDeviceStrategy::Multi,
        }
    }
}

/// Mixed into the run's seed to draw validation subsets independently of training subsets.
const EVALUATION_SEED: u64 = 0x5EED_0FE7;

/// Trains `cfg`'s model on `train` with burn-train's `Learner` and `SupervisedTraining`,
/// validating on `valid` after every epoch, and tests the best model on `test` with Burn's
/// `Evaluator`.
///
/// - Data: [`SpikeDataLoader`] — `cfg.samples_per_epoch` random training samples per epoch,
///   a function of `(seed, epoch)` (the paper's 6K per epoch), prefetched on another thread;
///   validation on `cfg.valid_samples` seeded samples (0: all).
/// - Metrics: Burn's `AccuracyMetric` and `LossMetric` (train and validation) and a
///   [`FiringRateMetric`] per spiking layer (train), logged by Burn's file logger under
///   `dir/train` and `dir/valid`.
/// - Checkpoints (Burn's): the last epoch and the best one by validation accuracy, under
///   `dir/checkpoint`. With `opts.resume`, a killed run continues after its last checkpoint:
///   model, optimizer and epoch restored, and the next epoch's samples are those an
///   uninterrupted run would have seen.
/// - Non-finite values: a NaN or infinite parameter or gradient stops the run before the
///   update with [`TrainError::NonFinite`] naming the parameter, epoch and batch.
/// - The run directory also receives `config.json`, `metrics.csv` (one line per epoch, from
///   Burn's metric logs), `accuracy.svg`, `loss.svg`, `rates.svg` (per-layer firing rates, the
///   paper's Fig. 6), `model-best.bpk` (the best [`SnnModel`](crate::model::SnnModel)) and
///   `result.json` ([`RunReport`]).
///
/// # Panics
///
/// If `opts.devices` is empty.
pub fn train(
    cfg: &ExperimentConfig,
    train: Arc<dyn SpikeData>,
    valid: Arc<dyn SpikeData>,
    test: Option<Arc<dyn SpikeData>>,
    opts: &RunOptions,
) -> Result<RunReport, TrainError> {
    assert!(
        !opts.devices.is_empty(),
        "train: RunOptions::devices is empty; give at least one device"
    );
    let resume_from = prepare_run_dir(cfg, opts)?;
    let devices = training_devices(opts)?;
    let run = Trainer::build(cfg, train, valid, devices, opts, resume_from)?;
    let finished = run.launch(cfg)?;
    let report = finished.evaluate_best(cfg, test, &opts.dir)?;
    write_reports(&opts.dir, &report)?;
    write_atomic(
        &opts.dir.join("result.json"),
        &serde_json::to_string_pretty(&report).expect("serializable"),
    )?;
    Ok(report)
}

/// Stage 1: the run directory. Without a checkpoint to resume from, Burn's logs and
/// checkpoints of an earlier run are removed; the experiment is saved as `config.json`.
/// Returns the epoch to resume after, if any.
fn prepare_run_dir(cfg: &ExperimentConfig, opts: &RunOptions) -> Result<Option<usize>, TrainError> {
    let dir = &opts.dir;
    let resume_from = match opts.resume {
        true => last_checkpoint(&dir.join("checkpoint")),
        false => None,
    };
    if resume_from.is_none() {
        for stale in ["train", "valid", "test", "checkpoint"] {
            let path = dir.join(stale);
            if path.is_dir() {
                std::fs::remove_dir_all(&path).map_err(|e| files_err(&path, e))?;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| files_err(dir, e))?;
    let config_path = dir.join("config.json");
    cfg.save(&config_path)
        .map_err(|e| files_err(&config_path, e))?;
    Ok(resume_from)
}

/// Stage 2: the training devices (with autodiff), checked against the strategy: Burn 0.22
/// implements DDP's collectives on CUDA only, and elsewhere panics inside Burn without naming
/// the device.
fn training_devices(opts: &RunOptions) -> Result<Vec<Device>, TrainError> {
    let devices: Vec<Device> = opts.devices.iter().map(|d| d.clone().autodiff()).collect();
    if devices.len() > 1
        && opts.strategy == MultiDeviceStrategy::Ddp
        && let Some(other) = devices.iter().find(|d| !crate::device::is_cuda(d))
    {
        return Err(TrainError::Engine(format!(
            "DDP runs on CUDA devices only (Burn's all-reduce); {other:?} is not one: use \
             MultiDeviceStrategy::Multi (--strategy multi)"
        )));
    }
    Ok(devices)
}

/// Stage 3: burn-train's trainer for a run, with what the later stages need.
struct Trainer {
    training: SupervisedTraining<SnnClassifier>,
    classifier: SnnClassifier,
    finished: Finished,
    first_epoch: usize,
}

/// What a launched (or already finished) run leaves for the evaluation.
struct Finished {
    classifier_cfg: SnnClassifierConfig,
    monitor: RunMonitor,
    layers: Vec<String>,
    per_epoch: usize,
    valid_samples: usize,
    main: Device,
}

impl Trainer {
    /// The classifier (seeded on the first device), the data loaders (the training loader
    /// positioned at `resume_from`), the progress monitor, checkpointing (the last epoch and
    /// the best by validation accuracy), the metrics (accuracy, loss, each layer's rate).
    fn build(
        cfg: &ExperimentConfig,
        train: Arc<dyn SpikeData>,
        valid: Arc<dyn SpikeData>,
        devices: Vec<Device>,
        opts: &RunOptions,
        resume_from: Option<usize>,
    ) -> Result<Self, TrainError> {
        let dir = &opts.dir;
        let checkpoint_dir = dir.join("checkpoint");
        let main = devices[0].clone();
        main.seed(cfg.seed);
        let classifier_cfg =
            SnnClassifierConfig::new(cfg.model(train.input_shape(), train.classes()), cfg.loss);
        let interrupter = Interrupter::new();
        let classifier = classifier_cfg
            .try_init(&main)?
            .stop_with(interrupter.clone());
        let layers = layer_names(&classifier, train.input_shape(), cfg.steps());
        let first_epoch = resume_from.unwrap_or(0);
        let per_epoch = match cfg.samples_per_epoch {
            0 => train.len(),
            n => n.min(train.len()),
        };
        let train_loader = SpikeDataLoader::train(
            train,
            cfg.batch_size,
            per_epoch,
            cfg.seed,
            first_epoch,
            &main,
        );
        let valid_loader = SpikeDataLoader::eval(valid, cfg.batch_size, &main.clone().inner())
            .limit(cfg.valid_samples, cfg.seed ^ EVALUATION_SEED);
        let valid_samples = valid_loader.num_items();
        let monitor = RunMonitor::new(opts.progress_every, cfg.batch_size)
            .with_seconds_file(checkpoint_dir.join("epoch-seconds.json"));
        let mut training =
            SupervisedTraining::new(dir, Arc::new(train_loader), Arc::new(valid_loader))
                .with_training_strategy(strategy(devices, opts.strategy).into())
                .with_interrupter(interrupter)
                .with_application_logger(None)
                .renderer(Box::new(monitor.clone()))
                .with_default_checkpointers()
                .with_checkpointing_strategy(
                    ComposedCheckpointingStrategy::builder()
                        .add(KeepLastNCheckpoints::new(1))
                        .add(MetricCheckpointingStrategy::new(
                            &AccuracyMetric::new(),
                            Aggregate::Mean,
                            Direction::Highest,
                            Split::Valid,
                        ))
                        .build(),
                )
                .metrics((AccuracyMetric::new(), LossMetric::new()))
                .num_epochs(cfg.epochs);
        for (i, name) in layers.iter().enumerate() {
            training = training.metric_train_numeric(FiringRateMetric::layer(i, name));
        }
        if let Some(epoch) = resume_from {
            log::info!(
                "resuming after epoch {epoch} from {}",
                checkpoint_dir.display()
            );
            training = training.checkpoint(epoch);
        }
        Ok(Self {
            training,
            classifier,
            finished: Finished {
                classifier_cfg,
                monitor,
                layers,
                per_epoch,
                valid_samples,
                main,
            },
            first_epoch,
        })
    }

    /// Stage 4: runs the remaining epochs, and maps how a run can fail (a non-finite value
    /// the guard found, an engine error, an interruption) to a [`TrainError`].
    fn launch(self, cfg: &ExperimentConfig) -> Result<Finished, TrainError> {
        let Self {
            training,
            classifier,
            finished,
            first_epoch,
        } = self;
        if first_epoch >= cfg.epochs {
            return Ok(finished);
        }
        let guard = classifier.guard.clone();
        let result = training.launch(Learner::new(classifier, cfg.build_optimizer(), cfg.lr));
        if let Some(detail) = guard.found() {
            let (epoch, batch) = finished.monitor.last_train_step();
            return Err(TrainError::NonFinite {
                epoch,
                batch,
                detail,
            });
        }
        if let Some(error) = result.error {
            return Err(TrainError::Engine(error.to_string()));
        }
        if let Some(stop) = result.interrupted {
            return Err(TrainError::Engine(format!(
                "interrupted: {}",
                stop.reason.as_deref().unwrap_or("no reason given")
            )));
        }
        Ok(finished)
    }
}

impl Finished {
    /// Stage 5: the history from Burn's logs (with each epoch's seconds), the best epoch by
    /// validation accuracy, its model saved as `model-best.bpk`, and its test evaluation.
    fn evaluate_best(
        self,
        cfg: &ExperimentConfig,
        test: Option<Arc<dyn SpikeData>>,
        dir: &Path,
    ) -> Result<RunReport, TrainError> {
        let checkpoint_dir = dir.join("checkpoint");
        let seconds_file = checkpoint_dir.join("epoch-seconds.json");
        let seconds = super::monitor::merge_seconds(&seconds_file, &self.monitor.epoch_seconds())
            .map_err(|e| files_err(&seconds_file, e))?;
        let history = read_history(
            dir,
            &self.layers,
            self.per_epoch,
            self.valid_samples,
            &seconds,
        )?;
        let (best_epoch, best_valid_accuracy) =
            history
                .iter()
                .fold((0, f64::MIN), |(e, a), r| match r.valid.accuracy > a {
                    true => (r.epoch, r.valid.accuracy),
                    false => (e, a),
                });
        if best_epoch == 0 {
            return Err(TrainError::Engine(format!(
                "no completed epoch in {}",
                dir.display()
            )));
        }
        // Burn's checkpoint of the best epoch holds the classifier; `model-best.bpk` the network.
        let checkpoint = checkpoint_dir.join(format!("model-{best_epoch}.bpk"));
        let eval_device = self.main.clone().inner();
        let best = self
            .classifier_cfg
            .try_init(&eval_device)?
            .try_load_file(&checkpoint)
            .map_err(|e| files_err(&checkpoint, e))?;
        save_atomic(&best.model, &dir.join("model-best.bpk"))?;
        let test = match test {
            Some(data) => Some(self.test(cfg, data, best, best_epoch, dir)?),
            None => None,
        };
        Ok(RunReport {
            history,
            best_epoch,
            best_valid_accuracy,
            test,
        })
    }

    /// The best model on the test split, through Burn's evaluator.
    fn test(
        &self,
        cfg: &ExperimentConfig,
        data: Arc<dyn SpikeData>,
        best: SnnClassifier,
        best_epoch: usize,
        dir: &Path,
    ) -> Result<Evaluation, TrainError> {
        let loader = SpikeDataLoader::eval(data, cfg.batch_size, &self.main.clone().inner());
        let result = EvaluatorBuilder::new(dir)
            .with_application_logger(None)
            .renderer(Box::new(self.monitor.clone()))
            .metrics((AccuracyMetric::new(), LossMetric::new()))
            .build(best)
            .eval("test", Arc::new(loader));
        if let Some(error) = result.error {
            return Err(TrainError::Engine(format!("testing: {error}")));
        }
        let eval = read_evaluation(dir, "test")?;
        log::info!(
            "test (best model, epoch {best_epoch}): loss {:.4} acc {:.2}% on {} samples",
            eval.loss,
            100.0 * eval.accuracy,
            eval.samples
        );
        Ok(eval)
    }
}

fn strategy(devices: Vec<Device>, kind: MultiDeviceStrategy) -> ExecutionStrategy {
    match (devices.len(), kind) {
        (1, _) => ExecutionStrategy::single(devices[0].clone()),
        (_, MultiDeviceStrategy::Multi) => {
            ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice)
        }
        (_, MultiDeviceStrategy::Ddp) => ExecutionStrategy::ddp(
            devices,
            DistributedConfig {
                all_reduce_op: ReduceOperation::Mean,
            },
        ),
    }
}

/// The spiking layers' names, from a forward pass of zeros over the run's `steps` (BNTT takes no
/// other length).
fn layer_names(classifier: &SnnClassifier, [c, h, w]: [usize; 3], steps: usize) -> Vec<String> {
    let model = classifier.model.valid();
    let device = model.devices().into_iter().next().unwrap_or_default();
    let (_, rates) = model.forward_with_rates(Tensor::zeros([1, steps, c, h, w], &device));
    rates.into_parts().0
}

/// The last epoch with a model and an optimizer checkpoint.
fn last_checkpoint(dir: &Path) -> Option<usize> {
    let epoch = |name: &str, prefix: &str| {
        name.strip_prefix(prefix)?
            .strip_suffix(".bpk")?
            .parse::<usize>()
            .ok()
    };
    let entries: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    entries
        .iter()
        .filter_map(|name| epoch(name, "model-"))
        .filter(|e| entries.contains(&format!("optim-{e}.bpk")))
        .max()
}

/// The metrics of evaluation `name` from the logs Burn's evaluator wrote
/// (`<dir>/test/<name>/<metric>.log`, one `value,count` entry per batch): the means weighted by
/// the batch sizes, as Burn's metrics aggregate. burn-train 0.22's `LearnerSummary` looks for
/// evaluation logs under epoch folders, which the evaluator does not write, so they are read
/// here.
fn read_evaluation(dir: &Path, name: &str) -> Result<Evaluation, TrainError> {
    let mut sums = Sums::default();
    for metric in ["Accuracy", "Loss"] {
        let path = dir.join("test").join(name).join(format!("{metric}.log"));
        let text = std::fs::read_to_string(&path).map_err(|e| files_err(&path, e))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let entry = NumericEntry::deserialize(line)
                .map_err(|e| files_err(&path, format!("unreadable metric entry {line:?}: {e}")))?;
            sums.add(metric, &entry);
        }
    }
    Ok(Evaluation {
        loss: sums.mean("Loss").unwrap_or(f64::NAN),
        accuracy: sums.mean("Accuracy").unwrap_or(f64::NAN) / 100.0,
        samples: sums.count("Accuracy"),
        rates: Vec::new(),
    })
}

/// Every epoch's training and validation metrics, from Burn's metric logs.
fn read_history(
    dir: &Path,
    layers: &[String],
    train_samples: usize,
    valid_samples: usize,
    seconds: &BTreeMap<usize, f64>,
) -> Result<Vec<EpochRecord>, TrainError> {
    let rate_name = |l: &str| format!("Firing rate {l}");
    let mut names = vec!["Accuracy".to_string(), "Loss".to_string()];
    names.extend(layers.iter().map(|l| rate_name(l)));
    let summary = LearnerSummary::new(dir, &names).map_err(|e| files_err(dir, e))?;
    let series = |split: &[burn::train::MetricSummary], name: &str| -> BTreeMap<usize, f64> {
        split
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.entries.iter().map(|e| (e.step, e.value)).collect())
            .unwrap_or_default()
    };
    let (train, valid) = (&summary.metrics.train, &summary.metrics.valid);
    let train_acc = series(train, "Accuracy");
    let (train_loss, valid_acc, valid_loss) = (
        series(train, "Loss"),
        series(valid, "Accuracy"),
        series(valid, "Loss"),
    );
    let rates: Vec<BTreeMap<usize, f64>> = layers
        .iter()
        .map(|l| series(train, &rate_name(l)))
        .collect();
    let nan = |m: &BTreeMap<usize, f64>, e: usize| m.get(&e).copied().unwrap_or(f64::NAN);
    Ok(valid_acc
        .keys()
        .map(|&epoch| EpochRecord {
            epoch,
            train: Evaluation {
                loss: nan(&train_loss, epoch),
                accuracy: nan(&train_acc, epoch) / 100.0,
                samples: train_samples,
                rates: layers
                    .iter()
                    .zip(&rates)
                    .map(|(l, r)| (l.clone(), nan(r, epoch)))
                    .collect(),
            },
            valid: Evaluation {
                loss: nan(&valid_loss, epoch),
                accuracy: nan(&valid_acc, epoch) / 100.0,
                samples: valid_samples,
                rates: Vec::new(),
            },
            seconds: nan(seconds, epoch),
        })
        .collect())
}

fn write_atomic(path: &Path, text: &str) -> Result<(), TrainError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| files_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| files_err(path, e))
}

fn save_atomic<M: Module>(model: &M, path: &Path) -> Result<(), TrainError> {
    let tmp = path.with_extension("bpk.tmp");
    model
        .clone()
        .save_file(&tmp)
        .map_err(|e| files_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| files_err(path, e))
}

/// Draws an SVG line chart (760×460, round ticks, a grid and a legend; the y axis starts at
/// 0 unless a value is negative) and writes it to `path` atomically (a temporary file, then a
/// rename). The examples draw their sweeps and the streaming chart with it.
///
/// ```no_run
/// use burn_snn::train::{Series, XAxis, write_chart};
///
/// let accuracy = Series {
///     name: "PSP-LN".into(),
///     points: vec![(1.0, 0.61), (2.0, 0.68)],
/// };
/// write_chart(
///     "accuracy.svg".as_ref(),
///     "Validation accuracy",
///     "epoch",
///     "accuracy",
///     &[accuracy],
///     XAxis::Epochs,
/// )?;
/// # Ok::<(), burn_snn::train::TrainError>(())
/// ```
pub fn write_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_axis: XAxis<'_>,
) -> Result<(), TrainError> {
    let svg =
        line_chart(title, x_label, y_label, series, x_axis).map_err(|e| files_err(path, e))?;
    write_atomic(path, &svg)
}

/// Writes `metrics.csv`, `accuracy.svg`, `loss.svg` and `rates.svg` from a run's history.
pub(crate) fn write_reports(dir: &Path, report: &RunReport) -> Result<(), TrainError> {
    let history = &report.history;
    let Some(last) = history.last() else {
        return Ok(());
    };
    let layers: Vec<String> = last.train.rates.iter().map(|(n, _)| n.clone()).collect();
    let mut csv = String::from("epoch,train_loss,train_accuracy,valid_loss,valid_accuracy,seconds");
    for l in &layers {
        csv.push_str(&format!(",train_rate_{l}"));
    }
    csv.push('\n');
    for r in history {
        csv.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.2}",
            r.epoch, r.train.loss, r.train.accuracy, r.valid.loss, r.valid.accuracy, r.seconds
        ));
        for (_, rate) in &r.train.rates {
            csv.push_str(&format!(",{rate:.6}"));
        }
        csv.push('\n');
    }
    write_atomic(&dir.join("metrics.csv"), &csv)?;
    let curve = |name: &str, f: &dyn Fn(&EpochRecord) -> f64| Series {
        name: name.to_string(),
        points: history.iter().map(|r| (r.epoch as f64, f(r))).collect(),
    };
    let chart = |file: &str, title: &str, x: &str, y: &str, series: &[Series], axis| {
        write_chart(&dir.join(file), title, x, y, series, axis)
    };
    let accuracy: fn(&Evaluation) -> f64 = |e| e.accuracy;
    let loss: fn(&Evaluation) -> f64 = |e| e.loss;
    let panels = [
        ("accuracy.svg", "Accuracy", "accuracy", accuracy),
        ("loss.svg", "Loss", "loss", loss),
    ];
    for (file, title, y, get) in panels {
        let series = [
            curve("train", &|r| get(&r.train)),
            curve("validation", &|r| get(&r.valid)),
        ];
        chart(file, title, "epoch", y, &series, XAxis::Epochs)?;
    }
    // Firing rate per layer (Fig. 6) after the first, middle and last epochs.
    let mut picks = vec![0, history.len() / 2, history.len() - 1];
    picks.dedup();
    let rates: Vec<Series> = picks
        .into_iter()
        .map(|i| history[i].rate_series(&format!("epoch {}", history[i].epoch)))
        .collect();
    chart(
        "rates.svg",
        "Firing rate per layer",
        "layer",
        "spikes / neuron / step",
        &rates,
        XAxis::Categories(&layers),
    )
}
