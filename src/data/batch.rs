//! Batching samples into `[batch, time, channels, height, width]` spike tensors.

use super::{Binning, EpochBatcher, ImageEncoder, ImageItem, NMNIST_SIDE, NmnistItem};
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rayon::prelude::*;

/// A batch of spike trains and their labels.
#[derive(Clone, Debug)]
pub struct SpikeBatch {
    /// Spikes, `[batch, time, channels, height, width]`.
    pub spikes: Tensor<5>,
    /// Classes, `[batch]`.
    pub labels: Tensor<1, Int>,
}

/// Fills one `[batch, ...]` buffer, one sample per chunk, in parallel, and builds the batch.
fn build<T: Sync>(
    items: &[T],
    sample_len: usize,
    dims: [usize; 4],
    label: impl Fn(&T) -> usize,
    fill: impl Fn(&T, &mut [f32]) + Sync,
    device: &Device,
) -> SpikeBatch {
    let mut spikes = vec![0.0f32; items.len() * sample_len];
    spikes
        .par_chunks_mut(sample_len.max(1))
        .zip(items.par_iter())
        .for_each(|(out, item)| fill(item, out));
    let labels: Vec<i64> = items.iter().map(|i| label(i) as i64).collect();
    let [t, c, h, w] = dims;
    SpikeBatch {
        spikes: Tensor::from_data(TensorData::new(spikes, [items.len(), t, c, h, w]), device),
        labels: Tensor::from_data(TensorData::new(labels, [items.len()]), device),
    }
}

/// Bins N-MNIST events into `[batch, steps, 2, 34, 34]` (see [`Binning`]).
#[derive(Clone, Debug, Default)]
pub struct NmnistBatcher {
    /// Time binning.
    pub binning: Binning,
}

impl Batcher<NmnistItem, SpikeBatch> for NmnistBatcher {
    fn batch(&self, items: Vec<NmnistItem>, device: &Device) -> SpikeBatch {
        let b = self.binning;
        build(
            &items,
            b.sample_len(),
            [b.steps, 2, NMNIST_SIDE, NMNIST_SIDE],
            |i| i.label,
            |item, out| b.bin_into(&item.events, out),
            device,
        )
    }
}

/// Binning is deterministic: every epoch sees the same spikes.
impl EpochBatcher<NmnistItem> for NmnistBatcher {
    fn for_epoch(&self, _epoch: usize) -> Self {
        self.clone()
    }
}

/// Encodes images into `[batch, steps, 1, side, side]` (see [`ImageEncoder`]).
#[derive(Clone, Debug, Default)]
pub struct ImageBatcher {
    /// Resizing and spike encoding.
    pub encoder: ImageEncoder,
}

impl Batcher<ImageItem, SpikeBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> SpikeBatch {
        let e = &self.encoder;
        build(
            &items,
            e.sample_len(),
            [e.steps, 1, e.side, e.side],
            |i| i.label,
            |item, out| e.encode_into(&item.pixels, [item.rows, item.cols], item.index, out),
            device,
        )
    }
}

/// Rate coding draws fresh spike trains each epoch ([`ImageEncoder::for_epoch`]).
impl EpochBatcher<ImageItem> for ImageBatcher {
    fn for_epoch(&self, epoch: usize) -> Self {
        Self {
            encoder: self.encoder.for_epoch(epoch),
        }
    }
}
