use super::{DataError, SpikeBatch};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use std::marker::PhantomData;

/// Labelled spike samples a training run draws batches from.
pub trait SpikeData: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `indices` as one batch on `device`, as evaluation sees them (any random
    /// encoding drawn with the base seed, the same every time).
    fn batch(&self, indices: &[usize], device: &Device) -> Result<SpikeBatch, DataError>;

    /// The samples at `indices` as training epoch `epoch` (0-based) sees them: a random
    /// encoding (rate coding) draws fresh spike trains each epoch, fixed by the seed and the
    /// epoch so that runs stay reproducible. Default: [`batch`](SpikeData::batch).
    fn train_batch(
        &self,
        indices: &[usize],
        epoch: usize,
        device: &Device,
    ) -> Result<SpikeBatch, DataError> {
        let _ = epoch;
        self.batch(indices, device)
    }

    /// Input `[channels, height, width]` of every sample (the tensor order of dims 2..5).
    fn input_shape(&self) -> [usize; 3];

    /// Number of classes.
    fn classes(&self) -> usize;
}

/// A batcher whose random draws can be renewed for each training epoch.
pub trait EpochBatcher<I>: Batcher<I, SpikeBatch> + Sized {
    /// The batcher for training epoch `epoch` (0-based). A deterministic batcher returns a
    /// copy of itself.
    fn for_epoch(&self, epoch: usize) -> Self;
}

/// A Burn [`Dataset`] and a [`Batcher`] as [`SpikeData`].
pub struct DatasetSource<D, B, I> {
    /// The samples.
    pub dataset: D,
    /// Turns samples into spike tensors.
    pub batcher: B,
    /// `[channels, height, width]`.
    pub input: [usize; 3],
    /// Classes.
    pub classes: usize,
    _item: PhantomData<fn() -> I>,
}

impl<D: Dataset<I, DataError>, B, I> DatasetSource<D, B, I> {
    fn items(&self, indices: &[usize]) -> Result<Vec<I>, DataError> {
        indices.iter().map(|&i| self.dataset.get(i)).collect()
    }
}

impl<D, B, I> DatasetSource<D, B, I> {
    /// Pairs a data set with its batcher.
    pub fn new(dataset: D, batcher: B, input: [usize; 3], classes: usize) -> Self {
        Self {
            dataset,
            batcher,
            input,
            classes,
            _item: PhantomData,
        }
    }
}

impl<D, B, I> SpikeData for DatasetSource<D, B, I>
where
    D: Dataset<I, DataError>,
    B: EpochBatcher<I>,
    I: Send,
{
    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<SpikeBatch, DataError> {
        Ok(self.batcher.batch(self.items(indices)?, device))
    }

    fn train_batch(
        &self,
        indices: &[usize],
        epoch: usize,
        device: &Device,
    ) -> Result<SpikeBatch, DataError> {
        let items = self.items(indices)?;
        Ok(self.batcher.for_epoch(epoch).batch(items, device))
    }

    fn input_shape(&self) -> [usize; 3] {
        self.input
    }

    fn classes(&self) -> usize {
        self.classes
    }
}
