//! [`SpikeData`] as a Burn [`DataLoader`]: what burn-train's `SupervisedTraining` and
//! `Evaluator` iterate over.

use super::{DataError, SpikeBatch, SpikeData, epoch_subset};
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Batches of a [`SpikeData`] for Burn's training engine.
///
/// - [`train`](Self::train): every call to `iter` is one epoch: `samples_per_epoch` samples
///   drawn at random without replacement ([`epoch_subset`], the paper's 6,000 per epoch),
///   fixed by `(seed, epoch)`, batched with [`SpikeData::train_batch`] (fresh rate-coded spike
///   trains each epoch). The epoch counter starts at `first_epoch` (0, or the epoch a resumed
///   run continues from).
/// - [`eval`](Self::eval): all samples in order, batched with [`SpikeData::batch`] (the same
///   spikes every time).
///
/// Slices (Burn's multi-device strategies split a loader by item range) cut the same epoch
/// order, so the parts of one epoch are disjoint and together are the whole.
///
/// ```
/// use burn::data::dataloader::DataLoader;
/// use burn_snn::data::{SaccadeShapes, SpikeData, SpikeDataLoader};
/// use std::sync::Arc;
///
/// let device = burn_snn::device::cpu();
/// let data: Arc<dyn SpikeData> = Arc::new(SaccadeShapes::new(100, 1));
/// // 40 random samples per epoch in batches of 10, seed 7, from epoch 0.
/// let train = SpikeDataLoader::train(data.clone(), 10, 40, 7, 0, &device);
/// assert_eq!(train.iter().count(), 4);
/// let eval = SpikeDataLoader::eval(data, 10, &device);
/// assert_eq!(eval.iter().count(), 10);
/// ```
#[derive(Clone)]
pub struct SpikeDataLoader {
    data: Arc<dyn SpikeData>,
    batch_size: usize,
    /// `None`: evaluation (all samples, or `subset`, in order).
    sampling: Option<Sampling>,
    /// Evaluation on these samples only ([`limit`](SpikeDataLoader::limit)).
    subset: Option<Arc<Vec<usize>>>,
    range: Option<(usize, usize)>,
    device: Device,
}

#[derive(Clone)]
struct Sampling {
    per_epoch: usize,
    seed: u64,
    epoch: Arc<AtomicUsize>,
}

impl SpikeDataLoader {
    /// A training loader: `samples_per_epoch` random samples per epoch (0: all of them, in a
    /// new random order every epoch).
    ///
    /// # Panics
    ///
    /// If `batch_size` is 0 or `samples_per_epoch` exceeds the data.
    pub fn train(
        data: Arc<dyn SpikeData>,
        batch_size: usize,
        samples_per_epoch: usize,
        seed: u64,
        first_epoch: usize,
        device: &Device,
    ) -> Self {
        assert!(batch_size > 0, "SpikeDataLoader: batch_size must be > 0");
        let per_epoch = match samples_per_epoch {
            0 => data.len(),
            n => n,
        };
        assert!(
            per_epoch <= data.len(),
            "SpikeDataLoader: {per_epoch} samples per epoch requested from {}",
            data.len()
        );
        Self {
            data,
            batch_size,
            sampling: Some(Sampling {
                per_epoch,
                seed,
                epoch: Arc::new(AtomicUsize::new(first_epoch)),
            }),
            subset: None,
            range: None,
            device: device.clone(),
        }
    }

    /// An evaluation loader over all samples, in order.
    ///
    /// # Panics
    ///
    /// If `batch_size` is 0.
    pub fn eval(data: Arc<dyn SpikeData>, batch_size: usize, device: &Device) -> Self {
        assert!(batch_size > 0, "SpikeDataLoader: batch_size must be > 0");
        Self {
            data,
            batch_size,
            sampling: None,
            subset: None,
            range: None,
            device: device.clone(),
        }
    }

    /// An evaluation loader on `limit` samples drawn at random without replacement, fixed by
    /// `seed`, in index order (data sets are often stored class by class, so a prefix would
    /// be biased); 0 or more than the data: all of them. A training loader is unchanged.
    pub fn limit(mut self, limit: usize, seed: u64) -> Self {
        if self.sampling.is_none() && limit > 0 && limit < self.data.len() {
            let mut picked = epoch_subset(self.data.len(), limit, seed, 0);
            picked.sort_unstable();
            self.subset = Some(Arc::new(picked));
        }
        self
    }

    fn total(&self) -> usize {
        match (&self.sampling, &self.subset) {
            (Some(s), _) => s.per_epoch,
            (None, Some(subset)) => subset.len(),
            (None, None) => self.data.len(),
        }
    }
}

/// Batches prepared on another thread, up to [`PREFETCH`] ahead of the training step.
struct Iter {
    batches: std::sync::mpsc::Receiver<(usize, Result<SpikeBatch, DataError>)>,
    done: usize,
    total: usize,
}

/// Batches prepared ahead of the step that consumes them.
const PREFETCH: usize = 2;

impl Iter {
    fn spawn(loader: &SpikeDataLoader, order: Vec<usize>, epoch: Option<usize>) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(PREFETCH);
        let (data, device, batch_size) = (
            loader.data.clone(),
            loader.device.clone(),
            loader.batch_size,
        );
        let total = order.len();
        std::thread::spawn(move || {
            for chunk in order.chunks(batch_size) {
                let batch = match epoch {
                    Some(epoch) => data.train_batch(chunk, epoch, &device),
                    None => data.batch(chunk, &device),
                };
                // The receiver is gone: the epoch was abandoned.
                if tx.send((chunk.len(), batch)).is_err() {
                    break;
                }
            }
        });
        Self {
            batches: rx,
            done: 0,
            total,
        }
    }
}

impl Iterator for Iter {
    type Item = Result<SpikeBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (len, batch) = self.batches.recv().ok()?;
        self.done += len;
        Some(batch.map_err(DatasetError::new))
    }
}

impl DataLoaderIterator<SpikeBatch> for Iter {
    fn progress(&self) -> Progress {
        Progress::new(self.done, self.total, Some("samples".to_string()))
    }
}

impl DataLoader<SpikeBatch> for SpikeDataLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<SpikeBatch> + 'a> {
        let (mut order, epoch) = match &self.sampling {
            Some(s) => {
                let epoch = s.epoch.fetch_add(1, Ordering::SeqCst);
                (
                    epoch_subset(self.data.len(), s.per_epoch, s.seed, epoch),
                    Some(epoch),
                )
            }
            None => match &self.subset {
                Some(subset) => (subset.to_vec(), None),
                None => ((0..self.data.len()).collect(), None),
            },
        };
        if let Some((start, end)) = self.range {
            order = order[start.min(order.len())..end.min(order.len())].to_vec();
        }
        Box::new(Iter::spawn(self, order, epoch))
    }

    fn num_items(&self) -> usize {
        match self.range {
            Some((start, end)) => end.min(self.total()) - start.min(self.total()),
            None => self.total(),
        }
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<SpikeBatch>> {
        Arc::new(Self {
            device: device.clone(),
            ..self.clone()
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<SpikeBatch>> {
        let (base, _) = self.range.unwrap_or((0, self.total()));
        Arc::new(Self {
            range: Some((base + start, base + end)),
            // A slice counts its own epochs from the parent's current one.
            sampling: self.sampling.as_ref().map(|s| Sampling {
                epoch: Arc::new(AtomicUsize::new(s.epoch.load(Ordering::SeqCst))),
                ..s.clone()
            }),
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SaccadeShapes;
    use crate::test_util::device;

    fn labels(batch: &SpikeBatch) -> Vec<i64> {
        batch
            .labels
            .to_data()
            .convert::<i64>()
            .try_to_vec()
            .unwrap()
    }

    #[test]
    fn each_iteration_is_a_new_epoch_of_the_papers_sampler() {
        let data: Arc<dyn SpikeData> = Arc::new(SaccadeShapes::new(40, 1));
        let loader = SpikeDataLoader::train(data.clone(), 4, 12, 9, 0, &device());
        assert_eq!(loader.num_items(), 12);
        let epoch = |loader: &SpikeDataLoader| -> Vec<Vec<i64>> {
            loader.iter().map(|b| labels(&b.unwrap())).collect()
        };
        let (first, second) = (epoch(&loader), epoch(&loader));
        assert_eq!(first.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 4]);
        // The labels of epoch_subset(40, 12, 9, e), batched.
        for (e, got) in [(0, &first), (1, &second)] {
            let want: Vec<i64> = epoch_subset(40, 12, 9, e)
                .iter()
                .map(|&i| labels(&data.batch(&[i], &device()).unwrap())[0])
                .collect();
            assert_eq!(got.concat(), want, "epoch {e}");
        }
        // A resumed run continues with the next epoch's samples.
        let resumed = SpikeDataLoader::train(data, 4, 12, 9, 1, &device());
        assert_eq!(epoch(&resumed), second);
    }

    #[test]
    fn slices_split_an_epoch_and_eval_is_in_order() {
        let data: Arc<dyn SpikeData> = Arc::new(SaccadeShapes::new(10, 1));
        let loader = SpikeDataLoader::eval(data.clone(), 3, &device());
        let all: Vec<i64> = loader.iter().flat_map(|b| labels(&b.unwrap())).collect();
        assert_eq!(all.len(), 10);
        let (a, b) = (loader.slice(0, 6), loader.slice(6, 10));
        assert_eq!((a.num_items(), b.num_items()), (6, 4));
        let joined: Vec<i64> = a
            .iter()
            .chain(b.iter())
            .flat_map(|b| labels(&b.unwrap()))
            .collect();
        assert_eq!(joined, all);
    }

    #[test]
    fn a_limited_evaluation_is_a_seeded_subset_in_index_order() {
        let data: Arc<dyn SpikeData> = Arc::new(SaccadeShapes::new(30, 1));
        let loader = SpikeDataLoader::eval(data.clone(), 4, &device()).limit(7, 5);
        assert_eq!(loader.num_items(), 7);
        let mut want = epoch_subset(30, 7, 5, 0);
        want.sort_unstable();
        let want: Vec<i64> = want
            .iter()
            .map(|&i| labels(&data.batch(&[i], &device()).unwrap())[0])
            .collect();
        let got: Vec<i64> = loader.iter().flat_map(|b| labels(&b.unwrap())).collect();
        assert_eq!(got, want);
        // 0 or more than the data: everything.
        let all = SpikeDataLoader::eval(data, 4, &device()).limit(0, 5);
        assert_eq!(all.num_items(), 30);
    }
}
