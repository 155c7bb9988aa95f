//! [`RunMonitor`]: burn-train's renderer for [`train`](super::train) — progress through the
//! `log` facade, and what the run report needs that Burn's metric logs do not hold (epoch wall
//! times, the position of a failed step). Every metric of the report comes from Burn's logs.

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Weighted sums of each metric's per-batch values over a split, as Burn's metrics aggregate
/// them (the progress lines here, and the test metrics read back from Burn's logs).
#[derive(Default, Clone, Debug)]
pub(crate) struct Sums(BTreeMap<String, (f64, usize)>);

impl Sums {
    pub(crate) fn add(&mut self, name: &str, entry: &NumericEntry) {
        let (value, count) = match *entry {
            NumericEntry::Value(v) => (v, 1),
            NumericEntry::Aggregated {
                aggregated_value,
                count,
            } => (aggregated_value, count),
            // The epoch's value, computed by the metric at the end of the split.
            NumericEntry::Final(_) => return,
        };
        let sum = self.0.entry(name.to_string()).or_default();
        sum.0 += value * count as f64;
        sum.1 += count;
    }

    pub(crate) fn mean(&self, name: &str) -> Option<f64> {
        self.0
            .get(name)
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| s / *n as f64)
    }

    /// The entries' total count (samples, for a metric logged per batch with its size).
    pub(crate) fn count(&self, name: &str) -> usize {
        self.0.get(name).map_or(0, |&(_, n)| n)
    }
}

#[derive(Default)]
struct State {
    names: HashMap<MetricId, String>,
    total_epochs: usize,
    epoch: usize,
    split: String,
    batch: usize,
    batches: usize,
    train: Sums,
    valid: Sums,
    split_start: Option<Instant>,
    epoch_start: Option<Instant>,
    seconds: BTreeMap<usize, f64>,
    last_train: (usize, usize),
}

/// burn-train's renderer for burn-snn's runs: logs a progress line every `progress_every`
/// training batches and a summary per epoch (`log::info!`), and records each epoch's wall
/// time and the epoch and batch of the last training step. It keeps no metric for the report:
/// those are read from Burn's metric logs.
///
/// Clones share their record: give one clone to `SupervisedTraining::renderer` (and another to
/// an `Evaluator`), keep one to read.
#[derive(Clone)]
pub struct RunMonitor {
    state: Arc<Mutex<State>>,
    progress_every: usize,
    batch_size: usize,
    seconds_file: Option<Arc<PathBuf>>,
}

impl RunMonitor {
    /// A monitor logging every `progress_every` batches (0: per epoch only) of `batch_size`
    /// samples (to count batches from Burn's item progress).
    pub fn new(progress_every: usize, batch_size: usize) -> Self {
        Self {
            state: Arc::default(),
            progress_every,
            batch_size: batch_size.max(1),
            seconds_file: None,
        }
    }

    /// Also writes the epoch times to `path` (JSON, epoch → seconds, merged with what the file
    /// holds: a resumed run keeps the earlier epochs) as each epoch ends, atomically, before
    /// burn-train writes that epoch's checkpoint: a run killed later loses none of them.
    pub fn with_seconds_file(mut self, path: PathBuf) -> Self {
        self.seconds_file = Some(Arc::new(path));
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wall time of each completed epoch (1-based), seconds: training and validation.
    pub fn epoch_seconds(&self) -> BTreeMap<usize, f64> {
        self.state().seconds.clone()
    }

    /// `(epoch, batch)`, both 1-based, of the last training step whose metrics were recorded.
    pub fn last_train_step(&self) -> (usize, usize) {
        self.state().last_train
    }

    fn record(&self, which: Which, state: MetricState) {
        let MetricState::Numeric(entry, Some(value)) = state else {
            return;
        };
        let mut s = self.state();
        let Some(name) = s.names.get(&entry.metric_id).cloned() else {
            return;
        };
        match which {
            Which::Train => s.train.add(&name, &value),
            Which::Valid => s.valid.add(&name, &value),
        }
    }
}

#[derive(Clone, Copy)]
enum Which {
    Train,
    Valid,
}

fn percent(sums: &Sums, name: &str) -> String {
    sums.mean(name)
        .map_or_else(|| "-".to_string(), |v| format!("{v:.2}%"))
}

fn value(sums: &Sums, name: &str) -> String {
    sums.mean(name)
        .map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

/// Merges `seconds` into the JSON map at `path` (created with its folder if missing), written
/// through a temporary file and a rename; returns every epoch's time.
pub(crate) fn merge_seconds(
    path: &Path,
    seconds: &BTreeMap<usize, f64>,
) -> std::io::Result<BTreeMap<usize, f64>> {
    let mut all: BTreeMap<usize, f64> = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    all.extend(seconds.iter().map(|(&e, &s)| (e, s)));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string(&all).expect("a map of numbers"))?;
    std::fs::rename(&tmp, path)?;
    Ok(all)
}

impl MetricsRendererTraining for RunMonitor {
    fn update_train(&mut self, state: MetricState) {
        self.record(Which::Train, state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(Which::Valid, state);
    }

    fn on_train_end(
        &mut self,
        _summary: Option<burn::train::LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        Ok(())
    }
}

impl MetricsRendererEvaluation for RunMonitor {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}

    fn on_test_end(
        &mut self,
        _summary: Option<burn::train::LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        Ok(())
    }
}

impl TrainingProgressLogger for RunMonitor {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        let mut s = self.state();
        s.total_epochs = total_epochs;
        s.epoch = starting_epoch;
    }

    fn update_epoch(&mut self, epoch: usize) {
        let mut s = self.state();
        let seconds = s.epoch_start.map_or(0.0, |t| t.elapsed().as_secs_f64());
        s.seconds.insert(epoch, seconds);
        if let Some(path) = &self.seconds_file
            && let Err(err) = merge_seconds(path, &s.seconds)
        {
            log::warn!(
                "could not record the epoch times in {}: {err}",
                path.display()
            );
        }
        log::info!(
            "epoch {epoch}/{}: train loss {} acc {} | valid loss {} acc {} | {seconds:.1} s",
            s.total_epochs,
            value(&s.train, "Loss"),
            percent(&s.train, "Accuracy"),
            value(&s.valid, "Loss"),
            percent(&s.valid, "Accuracy"),
        );
        s.epoch = epoch + 1;
        s.epoch_start = None;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        let mut s = self.state();
        s.split = split.to_string();
        s.batch = 0;
        s.batches = total_items.div_ceil(self.batch_size);
        s.split_start = Some(Instant::now());
        if split == "train" {
            s.epoch_start = Some(Instant::now());
            s.train = Sums::default();
        } else {
            s.valid = Sums::default();
        }
    }

    fn update_split(&mut self, _items_processed: usize) {
        let mut s = self.state();
        s.batch += 1;
        if s.split != "train" {
            return;
        }
        s.last_train = (s.epoch, s.batch);
        let (b, batches) = (s.batch, s.batches);
        if self.progress_every > 0 && (b % self.progress_every == 0 || b == batches) {
            let elapsed = s.split_start.map_or(0.0, |t| t.elapsed().as_secs_f64());
            let per_batch = elapsed / b as f64;
            log::info!(
                "epoch {}/{} batch {b}/{batches}  loss {}  acc {}  {per_batch:.2} s/batch  eta {:.0} s",
                s.epoch,
                s.total_epochs,
                value(&s.train, "Loss"),
                percent(&s.train, "Accuracy"),
                per_batch * batches.saturating_sub(b) as f64
            );
        }
    }

    fn end_split(&mut self) {}

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for RunMonitor {
    fn start_global_progress(&mut self, _total_tests: usize) {}

    fn start_test(&mut self, _name: &str, _total_items: usize) {}

    fn update_test_progress(&mut self, _items_processed: usize) {}

    fn end_test(&mut self) {}

    fn end_global_progress(&mut self) {}

    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for RunMonitor {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.state()
            .names
            .insert(definition.metric_id, definition.name.to_string());
    }
}
