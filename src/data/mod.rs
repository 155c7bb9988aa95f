//! Data sets and spike encodings: N-MNIST events, Fashion-MNIST / MNIST images, batching.
//!
//! - [`NmnistDataset`] reads the official `Train/<digit>/<id>.bin` layout; [`NmnistBatcher`]
//!   bins events into `[batch, T, 2, 34, 34]` spikes ([`Binning`]: T = 300 steps of 1 ms).
//! - [`ImageDataset`] reads the four MNIST-format IDX files (raw or gzip); [`ImageBatcher`]
//!   resizes 28→34 (bilinear) and encodes `[batch, T, 1, 34, 34]` spikes ([`ImageEncoder`]:
//!   rate or latency coding, T = 100).
//! - [`train_validation_split`] (the paper's 54K/6K), [`epoch_subset`] (6K random samples per
//!   epoch) and [`Subset`] views.
//! - [`SpikeDataLoader`]: any [`SpikeData`] as a Burn `DataLoader` (the per-epoch sampler for
//!   burn-train).
//!
//! Parsers return [`DataError`] for malformed input and never panic on bad bytes.

mod batch;
mod binner;
mod download;
mod encoding;
mod error;
mod events;
mod idx;
mod images;
mod loader;
mod nmnist;
mod source;
mod subset;
mod synthetic;

pub use batch::*;
pub use binner::*;
pub use download::*;
pub use encoding::*;
pub use error::*;
pub use events::*;
pub use idx::*;
pub use images::*;
pub use loader::*;
pub use nmnist::*;
pub use source::*;
pub use subset::*;
pub use synthetic::*;

/// Which part of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Split {
    /// The training files.
    Train,
    /// The test files.
    Test,
}
