//! A generated event data set for tests and the quickstart: saccading shapes seen by an event
//! camera.
//!
//! Each sample is one of [`SHAPES`] drawn at a random position and size on a small sensor. Like
//! N-MNIST's recordings, the sensor makes three saccades (small triangular movements); ON
//! events fire where the shape's outline arrives, OFF events where it leaves, and background
//! noise events fire anywhere. Classes differ by shape, not by position or event count, so the
//! task needs spatial features but stays small enough to learn in a minute on a laptop CPU.

use super::{DataError, SpikeBatch, SpikeData};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rayon::prelude::*;

/// The classes, in label order.
pub const SHAPES: [&str; 4] = ["square", "cross", "horizontal bars", "diagonal"];

/// Generated saccading-shape event samples; sample `i` is a pure function of `(seed, i)`.
#[derive(Clone, Debug)]
pub struct SaccadeShapes {
    /// Number of samples.
    pub len: usize,
    /// Sensor side (pixels). Default: 16.
    pub side: usize,
    /// Time steps. Default: 40.
    pub steps: usize,
    /// Background noise events per pixel and step. Default: 0.01.
    pub noise: f64,
    /// Seed.
    pub seed: u64,
}

impl SaccadeShapes {
    /// `len` samples on a 16×16 sensor over 40 steps.
    pub fn new(len: usize, seed: u64) -> Self {
        Self {
            len,
            side: 16,
            steps: 40,
            noise: 0.01,
            seed,
        }
    }

    /// Label of sample `index`.
    pub fn label(&self, index: usize) -> usize {
        index % SHAPES.len()
    }

    /// Whether pixel `(y, x)` lies on shape `class` of half-size `r` centred at `(cy, cx)`.
    fn on_shape(class: usize, y: i64, x: i64, cy: i64, cx: i64, r: i64) -> bool {
        let (dy, dx) = (y - cy, x - cx);
        if dy.abs() > r || dx.abs() > r {
            return false;
        }
        match class {
            0 => dy.abs() == r || dx.abs() == r,
            1 => dy == 0 || dx == 0,
            2 => dy == -r || dy == 0 || dy == r,
            _ => dy == dx,
        }
    }

    /// Writes sample `index` as spikes `[steps, 2, side, side]` into `out` (zeroed).
    pub fn sample_into(&self, index: usize, out: &mut [f32]) {
        let (side, steps) = (self.side as i64, self.steps);
        let mut rng =
            StdRng::seed_from_u64(self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let class = self.label(index);
        let r = rng.random_range(2..=3i64);
        let cy = rng.random_range(r + 2..side - r - 2);
        let cx = rng.random_range(r + 2..side - r - 2);
        // Three saccades: right-down, left-down, up (a triangle), one step per 1/3 of the window.
        let path = |t: usize| -> (i64, i64) {
            let phase = 3.0 * t as f64 / steps as f64;
            let (seg, f) = (phase.floor() as i64, phase.fract());
            let pts = [(0.0, 0.0), (2.0, 2.0), (2.0, -2.0), (0.0, 0.0)];
            let (a, b) = (
                pts[seg.clamp(0, 2) as usize],
                pts[seg.clamp(0, 2) as usize + 1],
            );
            (
                (a.0 + (b.0 - a.0) * f).round() as i64,
                (a.1 + (b.1 - a.1) * f).round() as i64,
            )
        };
        let plane = (side * side) as usize;
        let mut previous = path(0);
        for t in 0..steps {
            let now = path(t);
            for y in 0..side {
                for x in 0..side {
                    let was = Self::on_shape(class, y, x, cy + previous.0, cx + previous.1, r);
                    let is = Self::on_shape(class, y, x, cy + now.0, cx + now.1, r);
                    let pixel = (y * side + x) as usize;
                    if is && (!was || rng.random::<f64>() < 0.05) {
                        out[(t * 2 + 1) * plane + pixel] = 1.0;
                    }
                    if was && !is {
                        out[(t * 2) * plane + pixel] = 1.0;
                    }
                    for channel in 0..2 {
                        if rng.random::<f64>() < self.noise {
                            out[(t * 2 + channel) * plane + pixel] = 1.0;
                        }
                    }
                }
            }
            previous = now;
        }
    }
}

impl SpikeData for SaccadeShapes {
    fn len(&self) -> usize {
        self.len
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<SpikeBatch, DataError> {
        let sample = self.steps * 2 * self.side * self.side;
        let mut spikes = vec![0.0f32; indices.len() * sample];
        spikes
            .par_chunks_mut(sample)
            .zip(indices.par_iter())
            .for_each(|(out, &i)| self.sample_into(i, out));
        let labels: Vec<i64> = indices.iter().map(|&i| self.label(i) as i64).collect();
        Ok(SpikeBatch {
            spikes: Tensor::from_data(
                TensorData::new(spikes, [indices.len(), self.steps, 2, self.side, self.side]),
                device,
            ),
            labels: Tensor::<1, Int>::from_data(TensorData::new(labels, [indices.len()]), device),
        })
    }

    fn input_shape(&self) -> [usize; 3] {
        [2, self.side, self.side]
    }

    fn classes(&self) -> usize {
        SHAPES.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_reproducible_and_classes_emit_similar_event_counts() {
        let data = SaccadeShapes::new(400, 1);
        let sample = 40 * 2 * 16 * 16;
        let mut a = vec![0.0; sample];
        let mut b = vec![0.0; sample];
        data.sample_into(5, &mut a);
        data.sample_into(5, &mut b);
        assert_eq!(a, b);
        let mut per_class = [0.0f32; 4];
        for i in 0..400 {
            let mut s = vec![0.0; sample];
            data.sample_into(i, &mut s);
            per_class[data.label(i)] += s.iter().sum::<f32>() / 100.0;
        }
        // Every class fires (outline + noise); counts stay within a factor of 3 of each other,
        // so the event count alone does not give the class away.
        let (lo, hi) = per_class
            .iter()
            .fold((f32::MAX, 0.0f32), |(l, h), &c| (l.min(c), h.max(c)));
        assert!(lo > 0.0 && hi < 3.0 * lo, "{per_class:?}");
    }
}
