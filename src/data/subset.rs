//! Views of a data set: the paper's train/validation split and per-epoch random subsets.

use burn::data::dataset::Dataset;
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};
use std::marker::PhantomData;
use std::sync::Arc;

/// The items of `inner` at `indices`, in that order.
pub struct Subset<D, I, E> {
    inner: Arc<D>,
    indices: Arc<Vec<usize>>,
    _item: PhantomData<fn() -> (I, E)>,
}

impl<D, I, E> Clone for Subset<D, I, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            indices: self.indices.clone(),
            _item: PhantomData,
        }
    }
}

impl<D: Dataset<I, E>, I, E: std::error::Error + Send + Sync + 'static> Subset<D, I, E> {
    /// A view of `inner` at `indices`.
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    pub fn new(inner: Arc<D>, indices: Vec<usize>) -> Self {
        let len = inner.len();
        if let Some(bad) = indices.iter().find(|&&i| i >= len) {
            panic!("Subset: index {bad} out of range for a data set of {len} items");
        }
        Self {
            inner,
            indices: Arc::new(indices),
            _item: PhantomData,
        }
    }

    /// The indices into the underlying data set.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
}

impl<D: Dataset<I, E>, I, E: std::error::Error + Send + Sync + 'static> Dataset<I, E>
    for Subset<D, I, E>
{
    fn get(&self, index: usize) -> Result<I, E> {
        self.inner.get(self.indices[index])
    }

    fn len(&self) -> usize {
        self.indices.len()
    }
}

/// Splits `0..len` into a training and a validation index list after a seeded shuffle: the
/// paper splits Fashion-MNIST's 60,000 training images into 54,000 + 6,000.
///
/// # Panics
///
/// If `validation > len`.
pub fn train_validation_split(
    len: usize,
    validation: usize,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    assert!(
        validation <= len,
        "train_validation_split: validation size {validation} > {len} items"
    );
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let validation_part = order.split_off(len - validation);
    order.sort_unstable();
    let mut validation_part = validation_part;
    validation_part.sort_unstable();
    (order, validation_part)
}

/// `size` indices drawn without replacement from `0..len`, different for each epoch and
/// reproducible from `(seed, epoch)`: the paper trains on 6,000 random samples per epoch.
///
/// # Panics
///
/// If `size > len`.
pub fn epoch_subset(len: usize, size: usize, seed: u64, epoch: usize) -> Vec<usize> {
    assert!(
        size <= len,
        "epoch_subset: {size} samples requested from {len}"
    );
    let mut rng = StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..len).collect();
    let (chosen, _) = order.partial_shuffle(&mut rng, size);
    chosen.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::data::dataset::InMemDataset;

    #[test]
    fn split_is_a_seeded_partition() {
        let (train, valid) = train_validation_split(100, 10, 7);
        assert_eq!((train.len(), valid.len()), (90, 10));
        let mut all: Vec<usize> = train.iter().chain(&valid).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(train_validation_split(100, 10, 7), (train, valid.clone()));
        assert_ne!(train_validation_split(100, 10, 8).1, valid);
    }

    #[test]
    fn epoch_subsets_differ_by_epoch_and_repeat_by_seed() {
        let a = epoch_subset(1000, 60, 1, 0);
        let mut unique = a.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 60);
        assert_eq!(a, epoch_subset(1000, 60, 1, 0));
        assert_ne!(a, epoch_subset(1000, 60, 1, 1));
    }

    #[test]
    fn subset_maps_indices() {
        let base = Arc::new(InMemDataset::new(vec![10, 11, 12, 13]));
        let sub = Subset::new(base, vec![3, 1]);
        assert_eq!(
            (sub.len(), sub.get(0).unwrap(), sub.get(1).unwrap()),
            (2, 13, 11)
        );
    }
}
