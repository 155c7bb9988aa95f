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

    /// The samples at `indices` as one batch on `device`.
    fn batch(&self, indices: &[usize], device: &Device) -> Result<SpikeBatch, DataError>;

    /// Input `[height, width, channels]` of every sample.
    fn input_shape(&self) -> [usize; 3];

    /// Number of classes.
    fn classes(&self) -> usize;
}

/// A Burn [`Dataset`] and a [`Batcher`] as [`SpikeData`].
pub struct DatasetSource<D, B, I> {
    /// The samples.
    pub dataset: D,
    /// Turns samples into spike tensors.
    pub batcher: B,
    /// `[height, width, channels]`.
    pub input: [usize; 3],
    /// Classes.
    pub classes: usize,
    _item: PhantomData<fn() -> I>,
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
    B: Batcher<I, SpikeBatch>,
    I: Send,
{
    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<SpikeBatch, DataError> {
        let items = indices
            .iter()
            .map(|&i| self.dataset.get(i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.batcher.batch(items, device))
    }

    fn input_shape(&self) -> [usize; 3] {
        self.input
    }

    fn classes(&self) -> usize {
        self.classes
    }
}
