//! Losses on output spike trains, in the shape of `burn::nn::loss`: a config, `init`, and a
//! module with `forward`.

use super::decode::spike_counts;
use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::tensor::{Device, Int, Tensor, assert_shape};

/// Configuration of a [`SpikeCountLoss`].
#[derive(Config, Debug)]
pub struct SpikeCountLossConfig {
    /// Target spikes of the true class over the window.
    pub true_count: f64,
    /// Target spikes of every other class.
    pub false_count: f64,
}

impl SpikeCountLossConfig {
    /// Initializes the loss.
    pub fn init(&self) -> SpikeCountLoss {
        SpikeCountLoss {
            true_count: self.true_count,
            false_count: self.false_count,
        }
    }
}

/// SLAYER's spike-count loss (Shrestha & Orchard 2018): the true class should fire
/// `true_count` spikes over the window and every other class `false_count`.
///
/// `L = ½ · mean_b Σ_c (n_{b,c} − n̂_{b,c})²`, with `n` the spike counts and `n̂` the targets.
/// Its gradient with respect to every output spike of class `c` is the count error
/// `n_{b,c} − n̂_{b,c}` (divided by the batch size), spread over the whole window, as in SLAYER.
#[derive(Module, Debug)]
pub struct SpikeCountLoss {
    /// Target spikes of the true class.
    pub true_count: f64,
    /// Target spikes of every other class.
    pub false_count: f64,
}

impl SpikeCountLoss {
    /// The loss.
    ///
    /// # Shapes
    ///
    /// - `spikes`: `[batch, time, classes]`
    /// - `labels`: `[batch]`
    /// - output: `[1]`
    pub fn forward(&self, spikes: Tensor<3>, labels: Tensor<1, Int>) -> Tensor<1> {
        let [b, _, c] = spikes.dims();
        assert_shape!(labels, [b]);
        let counts = spike_counts(spikes);
        let device = counts.device();
        let target = labels
            .one_hot_fill::<2>(c, 1.0, 0.0, -1)
            .float()
            .mul_scalar(self.true_count - self.false_count)
            .add_scalar(self.false_count);
        let diff = counts - target.to_device(&device);
        (diff.clone() * diff).sum().mul_scalar(0.5 / b as f64)
    }
}

/// Configuration of a [`SpikeCountCrossEntropyLoss`].
#[derive(Config, Debug)]
pub struct SpikeCountCrossEntropyLossConfig {
    /// Label smoothing `α` of Burn's cross-entropy (`None`: hard labels).
    pub smoothing: Option<f32>,
}

impl SpikeCountCrossEntropyLossConfig {
    /// Initializes the loss.
    pub fn init(&self, device: &Device) -> SpikeCountCrossEntropyLoss {
        SpikeCountCrossEntropyLoss {
            cross_entropy: CrossEntropyLossConfig::new()
                .with_smoothing(self.smoothing)
                .init(device),
        }
    }
}

/// Burn's [`CrossEntropyLoss`] on the spike counts taken as logits: the softmax of the counts
/// against the labels, averaged over the batch.
#[derive(Module, Debug)]
pub struct SpikeCountCrossEntropyLoss {
    /// The cross-entropy on `[batch, classes]` logits.
    pub cross_entropy: CrossEntropyLoss,
}

impl SpikeCountCrossEntropyLoss {
    /// The loss.
    ///
    /// # Shapes
    ///
    /// - `spikes`: `[batch, time, classes]`
    /// - `labels`: `[batch]`
    /// - output: `[1]`
    pub fn forward(&self, spikes: Tensor<3>, labels: Tensor<1, Int>) -> Tensor<1> {
        let [b, _, _] = spikes.dims();
        assert_shape!(labels, [b]);
        self.cross_entropy.forward(spike_counts(spikes), labels)
    }
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
        let loss = SpikeCountLossConfig::new(3.0, 1.0)
            .init()
            .forward(spikes(), labels);
        // Sample 0: (2−3)² + (0−1)² + (1−1)² = 2; sample 1: 0 + 0 + (0−3)² = 9. ½·11/2.
        assert!((loss.into_scalar::<f32>() - 2.75).abs() < 1e-6);
    }

    #[test]
    fn cross_entropy_by_hand() {
        let labels = Tensor::<1, Int>::from_ints([0, 2], &device());
        let loss = SpikeCountCrossEntropyLossConfig::new()
            .init(&device())
            .forward(spikes(), labels)
            .into_scalar::<f32>() as f64;
        let lse = |c: [f64; 3]| c.iter().map(|x| x.exp()).sum::<f64>().ln();
        let want = ((lse([2., 0., 1.]) - 2.0) + (lse([1., 1., 0.]) - 0.0)) / 2.0;
        assert!((loss - want).abs() < 1e-5, "{loss} vs {want}");
    }

    #[test]
    #[should_panic(expected = "axis 0 expected 2, got 3 (dims [3])")]
    fn labels_must_match_the_batch() {
        let labels = Tensor::<1, Int>::from_ints([0, 2, 1], &device());
        SpikeCountLossConfig::new(3.0, 1.0)
            .init()
            .forward(spikes(), labels);
    }
}
