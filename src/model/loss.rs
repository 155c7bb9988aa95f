//! Losses on output spike trains.

use super::decode::spike_counts;
use burn::config::Config;
use burn::tensor::{Int, Tensor, activation::log_softmax};

/// SLAYER's spike-count loss (Shrestha & Orchard 2018): the true class should fire
/// `true_count` spikes over the window and every other class `false_count`.
///
/// `L = ½ · mean_b Σ_c (n_{b,c} − n̂_{b,c})²`, with `n` the spike counts and `n̂` the targets.
/// Its gradient with respect to every output spike of class `c` is the count error
/// `n_{b,c} − n̂_{b,c}` (divided by the batch size), spread over the whole window, as in SLAYER.
#[derive(Config, Debug)]
pub struct SpikeCountLossConfig {
    /// Target spikes of the true class over the window.
    pub true_count: f64,
    /// Target spikes of every other class.
    pub false_count: f64,
}

impl SpikeCountLossConfig {
    /// The loss.
    ///
    /// # Shapes
    ///
    /// - `spikes`: `[batch, time, classes]`
    /// - `labels`: `[batch]`
    /// - output: `[1]`
    pub fn forward(&self, spikes: Tensor<3>, labels: Tensor<1, Int>) -> Tensor<1> {
        let [b, _, c] = spikes.dims();
        let counts = spike_counts(spikes);
        let device = counts.device();
        let target = one_hot(labels, c)
            .mul_scalar(self.true_count - self.false_count)
            .add_scalar(self.false_count);
        let diff = counts - target.to_device(&device);
        (diff.clone() * diff).sum().mul_scalar(0.5 / b as f64)
    }
}

/// Cross-entropy of the softmax of the spike counts, averaged over the batch.
///
/// # Shapes
///
/// - `spikes`: `[batch, time, classes]`
/// - `labels`: `[batch]`
/// - output: `[1]`
pub fn spike_count_cross_entropy(spikes: Tensor<3>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [b, _, c] = spikes.dims();
    let log_p = log_softmax(spike_counts(spikes), 1);
    (log_p * one_hot(labels, c))
        .sum()
        .mul_scalar(-1.0 / b as f64)
}

/// `[batch, classes]` with 1 at each label, 0 elsewhere.
fn one_hot(labels: Tensor<1, Int>, classes: usize) -> Tensor<2> {
    labels.one_hot_fill::<2>(classes, 1.0, 0.0, -1).float()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    fn spikes() -> Tensor<3> {
        // Batch 2, time 2, classes 3: counts [[2, 0, 1], [1, 1, 0]].
        tensor_f32(
            &[1., 0., 1., 1., 0., 0., 0., 1., 0., 1., 0., 0.],
            [2, 2, 3],
            &device(),
        )
    }

    #[test]
    fn spike_count_loss_by_hand() {
        let labels = Tensor::<1, Int>::from_ints([0, 2], &device());
        let loss = SpikeCountLossConfig::new(3.0, 1.0).forward(spikes(), labels);
        // Sample 0: (2−3)² + (0−1)² + (1−1)² = 2; sample 1: 0 + 0 + (0−3)² = 9. ½·11/2.
        assert!((loss.into_scalar::<f32>() - 2.75).abs() < 1e-6);
    }

    #[test]
    fn cross_entropy_by_hand() {
        let labels = Tensor::<1, Int>::from_ints([0, 2], &device());
        let loss = spike_count_cross_entropy(spikes(), labels).into_scalar::<f32>() as f64;
        let lse = |c: [f64; 3]| c.iter().map(|x| x.exp()).sum::<f64>().ln();
        let want = ((lse([2., 0., 1.]) - 2.0) + (lse([1., 1., 0.]) - 0.0)) / 2.0;
        assert!((loss - want).abs() < 1e-5, "{loss} vs {want}");
    }
}
