use super::{ExperimentConfig, Series, first_non_finite, line_chart};
use crate::data::{DataError, SpikeBatch, SpikeData, epoch_subset};
use crate::model::{ModelError, SnnModel, correct, spike_counts};
use burn::config::Config;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading the data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The model could not be built.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A NaN or an infinity appeared.
    #[error("non-finite value at epoch {epoch}, batch {batch}: {detail}")]
    NonFinite {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// The loss or the parameter (module path) concerned.
        detail: String,
    },
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

/// Loss, accuracy and firing rates of one pass over data.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean loss per batch.
    pub loss: f64,
    /// Fraction of correct predictions.
    pub accuracy: f64,
    /// Samples seen.
    pub samples: usize,
    /// Mean firing rate of each spiking layer (spikes per neuron per step).
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
    /// Wall time of the epoch (training and validation), seconds.
    pub seconds: f64,
}

/// What a run directory's `checkpoint/state.json` holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunState {
    /// Epochs completed (and checkpointed).
    pub completed_epochs: usize,
    /// Best validation accuracy so far.
    pub best_valid_accuracy: f64,
    /// Its epoch (1-based; 0 before the first).
    pub best_epoch: usize,
    /// Every completed epoch.
    pub history: Vec<EpochRecord>,
}

/// The outcome of [`train`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// State at the end (history, best epoch).
    pub state: RunState,
    /// Test evaluation of the best model, when test data was given.
    pub test: Option<Evaluation>,
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The run directory (created if needed).
    pub dir: PathBuf,
    /// Continue from `dir/checkpoint` if it exists.
    pub resume: bool,
    /// Log a progress line (`log::info!`) every this many batches (0: only per epoch).
    pub progress_every: usize,
}

/// Trains `cfg`'s model on `train`, validating on `valid` after every epoch and testing the best
/// model on `test`.
///
/// The run directory receives `config.json`, `metrics.csv`, `accuracy.svg`, `loss.svg`,
/// `rates.svg` (per-layer firing rates, the paper's Fig. 6), `model-best.bpk`, `result.json`,
/// and `checkpoint/` (model, optimizer and [`RunState`] after every epoch, written atomically).
/// With `resume`, a killed run continues from its last completed epoch; the per-epoch samples
/// are a function of `(seed, epoch)`, so the resumed run sees the same data.
///
/// `device` must be an autodiff device.
pub fn train(
    cfg: &ExperimentConfig,
    train: &dyn SpikeData,
    valid: &dyn SpikeData,
    test: Option<&dyn SpikeData>,
    device: &Device,
    opts: &RunOptions,
) -> Result<RunReport, TrainError> {
    let dir = &opts.dir;
    let checkpoint = dir.join("checkpoint");
    std::fs::create_dir_all(&checkpoint).map_err(|e| files_err(&checkpoint, e))?;
    cfg.save(dir.join("config.json"))
        .map_err(|e| files_err(&dir.join("config.json"), e))?;

    let classes = train.classes();
    device.seed(cfg.seed);
    let mut model = cfg.build_model(train.input_shape(), classes, device)?;
    let mut optim = cfg.build_optimizer();
    let mut state = RunState::default();
    let state_path = checkpoint.join("state.json");
    if opts.resume && state_path.is_file() {
        let text = std::fs::read_to_string(&state_path).map_err(|e| files_err(&state_path, e))?;
        state = serde_json::from_str(&text).map_err(|e| files_err(&state_path, e))?;
        let path = checkpoint.join("model.bpk");
        model = model
            .try_load_file(&path)
            .map_err(|e| files_err(&path, e))?;
        let path = checkpoint.join("optim.bpk");
        optim = optim.load(&path).map_err(|e| files_err(&path, e))?;
        log::info!(
            "resuming after epoch {} from {}",
            state.completed_epochs,
            checkpoint.display()
        );
    }

    let per_epoch = match cfg.samples_per_epoch {
        0 => train.len(),
        n => n.min(train.len()),
    };
    let batches = per_epoch.div_ceil(cfg.batch_size);
    for epoch in state.completed_epochs..cfg.epochs {
        let start = Instant::now();
        let order = epoch_subset(train.len(), per_epoch, cfg.seed, epoch);
        let mut sums = Sums::default();
        let result: Result<(), TrainError> = std::thread::scope(|scope| {
            // Load the next batches on another thread while this one trains.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<SpikeBatch, DataError>>(2);
            let loader_device = device.clone();
            let order = &order;
            scope.spawn(move || {
                for chunk in order.chunks(cfg.batch_size) {
                    if tx
                        .send(train.train_batch(chunk, epoch, &loader_device))
                        .is_err()
                    {
                        break;
                    }
                }
            });
            for (b, batch) in rx.into_iter().enumerate() {
                let batch = batch?;
                let (out, rates) = model.forward_with_rates(batch.spikes);
                let loss = cfg.loss(out.clone(), batch.labels.clone());
                let loss_value = loss.clone().into_scalar::<f64>();
                if !loss_value.is_finite() {
                    return Err(TrainError::NonFinite {
                        epoch: epoch + 1,
                        batch: b + 1,
                        detail: format!("loss is {loss_value}"),
                    });
                }
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                if let Some(param) = first_non_finite(&model, &grads) {
                    return Err(TrainError::NonFinite {
                        epoch: epoch + 1,
                        batch: b + 1,
                        detail: param,
                    });
                }
                model = optim.step(cfg.lr, model.clone(), grads);
                let n = batch.labels.dims()[0];
                sums.add(
                    loss_value,
                    correct(spike_counts(out.detach()), batch.labels),
                    n,
                    &rates.to_vec(),
                );
                if opts.progress_every > 0
                    && ((b + 1) % opts.progress_every == 0 || b + 1 == batches)
                {
                    let elapsed = start.elapsed().as_secs_f64();
                    log::info!(
                        "epoch {}/{} batch {}/{batches}  loss {:.4}  acc {:.2}%  {:.2} s/batch  eta {:.0} s",
                        epoch + 1,
                        cfg.epochs,
                        b + 1,
                        sums.loss / sums.batches as f64,
                        100.0 * sums.correct as f64 / sums.samples as f64,
                        elapsed / (b + 1) as f64,
                        elapsed / (b + 1) as f64 * (batches - b - 1) as f64
                    );
                }
            }
            Ok(())
        });
        result?;
        let valid_eval = evaluate(&model, valid, cfg, cfg.valid_samples)?;
        let record = EpochRecord {
            epoch: epoch + 1,
            train: sums.finish(),
            valid: valid_eval,
            seconds: start.elapsed().as_secs_f64(),
        };
        log::info!(
            "epoch {}/{}: train loss {:.4} acc {:.2}% | valid loss {:.4} acc {:.2}% | {:.1} s",
            epoch + 1,
            cfg.epochs,
            record.train.loss,
            100.0 * record.train.accuracy,
            record.valid.loss,
            100.0 * record.valid.accuracy,
            record.seconds
        );
        if record.valid.accuracy > state.best_valid_accuracy || state.best_epoch == 0 {
            state.best_valid_accuracy = record.valid.accuracy;
            state.best_epoch = epoch + 1;
            save_model(&model, &dir.join("model-best.bpk"))?;
        }
        state.completed_epochs = epoch + 1;
        state.history.push(record);
        save_model(&model, &checkpoint.join("model.bpk"))?;
        let tmp = checkpoint.join("optim.bpk.tmp");
        optim.save(&tmp).map_err(|e| files_err(&tmp, e))?;
        rename(&tmp, &checkpoint.join("optim.bpk"))?;
        write_atomic(
            &state_path,
            &serde_json::to_string_pretty(&state).expect("serializable"),
        )?;
        write_reports(dir, &state)?;
    }

    let test = match test {
        Some(data) => {
            let best = dir.join("model-best.bpk");
            let best_model = cfg
                .build_model(train.input_shape(), classes, device)?
                .try_load_file(&best)
                .map_err(|e| files_err(&best, e))?;
            let eval = evaluate(&best_model, data, cfg, 0)?;
            log::info!(
                "test (best model, epoch {}): loss {:.4} acc {:.2}% on {} samples",
                state.best_epoch,
                eval.loss,
                100.0 * eval.accuracy,
                eval.samples
            );
            Some(eval)
        }
        None => None,
    };
    let report = RunReport { state, test };
    write_atomic(
        &dir.join("result.json"),
        &serde_json::to_string_pretty(&report).expect("serializable"),
    )?;
    Ok(report)
}

/// Mixed into the run's seed to draw evaluation subsets independently of training subsets.
const EVALUATION_SEED: u64 = 0x5EED_0FE7;

/// Evaluates `model` (without autodiff) on `data`: all of it when `limit` is 0 (or larger than
/// the data), else `limit` samples drawn at random without replacement, fixed by the seed (data
/// sets are often stored class by class, so a prefix would be biased).
pub fn evaluate(
    model: &SnnModel,
    data: &dyn SpikeData,
    cfg: &ExperimentConfig,
    limit: usize,
) -> Result<Evaluation, TrainError> {
    let model = model.valid();
    let device = model.devices().into_iter().next().unwrap_or_default();
    let indices: Vec<usize> = if limit == 0 || limit >= data.len() {
        (0..data.len()).collect()
    } else {
        let mut picked = epoch_subset(data.len(), limit, cfg.seed ^ EVALUATION_SEED, 0);
        picked.sort_unstable();
        picked
    };
    let mut sums = Sums::default();
    for chunk in indices.chunks(cfg.batch_size) {
        let batch = data.batch(chunk, &device)?;
        let (out, rates) = model.forward_with_rates(batch.spikes);
        let loss = cfg
            .loss(out.clone(), batch.labels.clone())
            .into_scalar::<f64>();
        sums.add(
            loss,
            correct(spike_counts(out), batch.labels),
            chunk.len(),
            &rates.to_vec(),
        );
    }
    Ok(sums.finish())
}

#[derive(Default)]
struct Sums {
    loss: f64,
    batches: usize,
    correct: usize,
    samples: usize,
    rates: Vec<(String, f64)>,
}

impl Sums {
    fn add(&mut self, loss: f64, correct: usize, samples: usize, rates: &[(String, f32)]) {
        self.loss += loss;
        self.batches += 1;
        self.correct += correct;
        self.samples += samples;
        if self.rates.is_empty() {
            self.rates = rates.iter().map(|(n, _)| (n.clone(), 0.0)).collect();
        }
        for (sum, (_, r)) in self.rates.iter_mut().zip(rates) {
            sum.1 += *r as f64;
        }
    }

    fn finish(self) -> Evaluation {
        let batches = self.batches.max(1) as f64;
        Evaluation {
            loss: self.loss / batches,
            accuracy: self.correct as f64 / self.samples.max(1) as f64,
            samples: self.samples,
            rates: self
                .rates
                .into_iter()
                .map(|(n, r)| (n, r / batches))
                .collect(),
        }
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), TrainError> {
    std::fs::rename(from, to).map_err(|e| files_err(to, e))
}

fn write_atomic(path: &Path, text: &str) -> Result<(), TrainError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| files_err(&tmp, e))?;
    rename(&tmp, path)
}

fn save_model(model: &SnnModel, path: &Path) -> Result<(), TrainError> {
    let tmp = path.with_extension("bpk.tmp");
    model
        .clone()
        .save_file(&tmp)
        .map_err(|e| files_err(&tmp, e))?;
    rename(&tmp, path)
}

/// Writes `metrics.csv`, `accuracy.svg`, `loss.svg` and `rates.svg` from the history.
pub fn write_reports(dir: &Path, state: &RunState) -> Result<(), TrainError> {
    let Some(last) = state.history.last() else {
        return Ok(());
    };
    let layers: Vec<String> = last.train.rates.iter().map(|(n, _)| n.clone()).collect();
    let mut csv = String::from("epoch,train_loss,train_accuracy,valid_loss,valid_accuracy,seconds");
    for l in &layers {
        csv.push_str(&format!(",train_rate_{l}"));
    }
    csv.push('\n');
    for r in &state.history {
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
        points: state
            .history
            .iter()
            .map(|r| (r.epoch as f64, f(r)))
            .collect(),
    };
    let accuracy = [
        curve("train", &|r| r.train.accuracy),
        curve("validation", &|r| r.valid.accuracy),
    ];
    write_atomic(
        &dir.join("accuracy.svg"),
        &line_chart("Accuracy", "epoch", "accuracy", &accuracy, None),
    )?;
    let loss = [
        curve("train", &|r| r.train.loss),
        curve("validation", &|r| r.valid.loss),
    ];
    write_atomic(
        &dir.join("loss.svg"),
        &line_chart("Loss", "epoch", "loss", &loss, None),
    )?;
    // Firing rate per layer (Fig. 6) after the first, middle and last epochs.
    let mut picks = vec![0, state.history.len() / 2, state.history.len() - 1];
    picks.dedup();
    let rates: Vec<Series> = picks
        .into_iter()
        .map(|i| {
            let r = &state.history[i];
            Series {
                name: format!("epoch {}", r.epoch),
                points: r
                    .train
                    .rates
                    .iter()
                    .enumerate()
                    .map(|(j, (_, v))| (j as f64, *v))
                    .collect(),
            }
        })
        .collect();
    write_atomic(
        &dir.join("rates.svg"),
        &line_chart(
            "Firing rate per layer",
            "layer",
            "spikes / neuron / step",
            &rates,
            Some(&layers),
        ),
    )
}
