//! Output decoding: spike counts and accuracy.

use burn::tensor::{Int, Tensor};

/// Spikes per output neuron over the whole window.
///
/// # Shapes
///
/// - `spikes`: `[batch, time, classes]`
/// - output: `[batch, classes]`
pub fn spike_counts(spikes: Tensor<3>) -> Tensor<2> {
    let [b, _, c] = spikes.dims();
    spikes.sum_dim(1).reshape([b, c])
}

/// The predicted class: the output neuron with the most spikes (the lowest index on ties).
///
/// # Shapes
///
/// - `counts`: `[batch, classes]`
/// - output: `[batch]`
pub fn predict(counts: Tensor<2>) -> Tensor<1, Int> {
    let [b, _] = counts.dims();
    counts.argmax(1).reshape([b])
}

/// Number of correct predictions in the batch.
///
/// # Shapes
///
/// - `counts`: `[batch, classes]`
/// - `labels`: `[batch]`
pub fn correct(counts: Tensor<2>, labels: Tensor<1, Int>) -> usize {
    predict(counts)
        .equal(labels)
        .int()
        .sum()
        .into_scalar::<i64>() as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn counts_and_predictions() {
        let device = device();
        // Batch 2, time 3, classes 2.
        let s = tensor_f32(
            &[1., 0., 1., 1., 0., 0., 0., 1., 0., 1., 1., 1.],
            [2, 3, 2],
            &device,
        );
        let counts = spike_counts(s);
        assert_eq!(to_f64(counts.clone()), vec![2., 1., 1., 3.]);
        let labels = Tensor::<1, Int>::from_ints([0, 0], &device);
        assert_eq!(correct(counts, labels), 1);
    }

    /// Ties go to the lowest index, a silent output (all counts 0) included.
    #[test]
    fn ties_predict_the_lowest_index() {
        let device = device();
        let counts = tensor_f32(&[0., 0., 0., 2., 5., 5., 3., 1., 3.], [3, 3], &device);
        let predicted: Vec<i64> = predict(counts)
            .into_data()
            .convert::<i64>()
            .try_to_vec()
            .unwrap();
        assert_eq!(predicted, vec![0, 1, 0]);
    }
}
