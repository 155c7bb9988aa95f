//! Images to spike trains: resizing and spike encodings.

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

/// Bilinear resize of an 8-bit image to intensities in `[0, 1]`.
///
/// Pixel centres are aligned (PyTorch's `align_corners=False`): output pixel `(i, j)` samples
/// the input at `((i + 0.5)·rows/out − 0.5, (j + 0.5)·cols/out − 0.5)`, clamped to the border.
/// The paper resizes Fashion-MNIST from 28×28 to 34×34.
pub fn resize_bilinear(
    pixels: &[u8],
    [rows, cols]: [usize; 2],
    [out_rows, out_cols]: [usize; 2],
) -> Vec<f32> {
    assert_eq!(
        pixels.len(),
        rows * cols,
        "resize_bilinear: {} pixels for a {rows}×{cols} image",
        pixels.len()
    );
    let sample = |size: usize, out: usize, i: usize| {
        let x = ((i as f32 + 0.5) * size as f32 / out as f32 - 0.5).clamp(0.0, (size - 1) as f32);
        let lo = x.floor() as usize;
        (lo, (lo + 1).min(size - 1), x - lo as f32)
    };
    let mut out = Vec::with_capacity(out_rows * out_cols);
    for i in 0..out_rows {
        let (y0, y1, fy) = sample(rows, out_rows, i);
        for j in 0..out_cols {
            let (x0, x1, fx) = sample(cols, out_cols, j);
            let p = |y: usize, x: usize| pixels[y * cols + x] as f32 / 255.0;
            let top = p(y0, x0) * (1.0 - fx) + p(y0, x1) * fx;
            let bottom = p(y1, x0) * (1.0 - fx) + p(y1, x1) * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// How an intensity in `[0, 1]` becomes spikes over `T` steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpikeEncoding {
    /// Rate (Bernoulli) coding: at every step a pixel spikes with probability equal to its
    /// intensity. Seeded per image, so an epoch is reproducible.
    Rate,
    /// Latency (time-to-first-spike) coding: one spike at step `round((1 − x)·(T − 1))`, bright
    /// pixels first; black pixels (x = 0) never spike. Deterministic.
    Latency,
}

/// Encodes images as spike trains `[T, 1, side, side]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageEncoder {
    /// Time steps T. The paper: 100 for Fashion-MNIST.
    pub steps: usize,
    /// Output side (the image is resized to `side × side`). The paper: 34.
    pub side: usize,
    /// The encoding.
    pub encoding: SpikeEncoding,
    /// Seed of the rate encoding (combined with each image's index).
    pub seed: u64,
}

impl Default for ImageEncoder {
    fn default() -> Self {
        Self {
            steps: 100,
            side: 34,
            encoding: SpikeEncoding::Rate,
            seed: 0,
        }
    }
}

impl ImageEncoder {
    /// The encoder of training epoch `epoch` (0-based): the seed mixed with the epoch, so that
    /// rate coding draws fresh spike trains every epoch and a run stays reproducible.
    /// Evaluation uses the encoder itself.
    pub fn for_epoch(&self, epoch: usize) -> Self {
        Self {
            seed: self.seed ^ (epoch as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
            ..self.clone()
        }
    }

    /// Elements of one encoded sample: `steps × side × side`.
    pub fn sample_len(&self) -> usize {
        self.steps * self.side * self.side
    }

    /// Writes the spikes of one image into `out` (`[steps, 1, side, side]`, zeroed by the
    /// caller). `index` identifies the image (with the seed, it fixes the rate coding's draws).
    pub fn encode_into(&self, pixels: &[u8], size: [usize; 2], index: usize, out: &mut [f32]) {
        assert_eq!(
            out.len(),
            self.sample_len(),
            "ImageEncoder::encode_into: output length"
        );
        let intensity = resize_bilinear(pixels, size, [self.side, self.side]);
        let plane = self.side * self.side;
        match self.encoding {
            SpikeEncoding::Rate => {
                let mut rng = StdRng::seed_from_u64(
                    self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                for step in out.chunks_exact_mut(plane) {
                    for (s, &p) in step.iter_mut().zip(&intensity) {
                        *s = if rng.random::<f32>() < p { 1.0 } else { 0.0 };
                    }
                }
            }
            SpikeEncoding::Latency => {
                for (i, &p) in intensity.iter().enumerate() {
                    if p > 0.0 {
                        let t = ((1.0 - p) * (self.steps - 1) as f32).round() as usize;
                        out[t * plane + i] = 1.0;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_constant_images_and_corners() {
        let flat = resize_bilinear(&[128; 28 * 28], [28, 28], [34, 34]);
        assert!(flat.iter().all(|&v| (v - 128.0 / 255.0).abs() < 1e-6));
        // A 2×2 image up to 4×4: the corners keep the corner pixels (border clamp).
        let up = resize_bilinear(&[0, 255, 255, 0], [2, 2], [4, 4]);
        assert_eq!((up[0], up[3], up[12], up[15]), (0.0, 1.0, 1.0, 0.0));
        // Output (0, 1) samples x = 0.25: 0.25 of the way from 0 to 1.
        assert!((up[1] - 0.25).abs() < 1e-6);
    }

    #[test]
    fn rate_coding_tracks_intensity_and_is_reproducible() {
        let enc = ImageEncoder {
            steps: 2000,
            side: 2,
            encoding: SpikeEncoding::Rate,
            seed: 5,
        };
        let pixels = [0, 64, 191, 255];
        let mut a = vec![0.0; enc.sample_len()];
        enc.encode_into(&pixels, [2, 2], 9, &mut a);
        for (i, &p) in pixels.iter().enumerate() {
            let rate = a.iter().skip(i).step_by(4).sum::<f32>() / 2000.0;
            assert!((rate - p as f32 / 255.0).abs() < 0.04, "pixel {i}: {rate}");
        }
        let mut b = vec![0.0; enc.sample_len()];
        enc.encode_into(&pixels, [2, 2], 9, &mut b);
        assert_eq!(a, b);
        enc.encode_into(&pixels, [2, 2], 10, &mut b);
        assert_ne!(a, b);
    }

    /// Training epochs draw fresh, reproducible trains; the encoder itself (evaluation) keeps
    /// its own.
    #[test]
    fn each_epoch_draws_fresh_rate_coded_trains() {
        let enc = ImageEncoder {
            steps: 50,
            side: 4,
            encoding: SpikeEncoding::Rate,
            seed: 5,
        };
        let pixels = [128u8; 16];
        let draw = |e: &ImageEncoder| {
            let mut out = vec![0.0; e.sample_len()];
            e.encode_into(&pixels, [4, 4], 3, &mut out);
            out
        };
        let (base, first, second) = (draw(&enc), draw(&enc.for_epoch(0)), draw(&enc.for_epoch(1)));
        assert_ne!(first, second);
        assert_ne!(base, first);
        assert_ne!(base, second);
        assert_eq!(first, draw(&enc.for_epoch(0)));
        assert_eq!(base, draw(&enc));
    }

    #[test]
    fn latency_coding_fires_once_bright_first() {
        let enc = ImageEncoder {
            steps: 11,
            side: 2,
            encoding: SpikeEncoding::Latency,
            seed: 0,
        };
        let mut s = vec![0.0; enc.sample_len()];
        enc.encode_into(&[0, 255, 128, 51], [2, 2], 0, &mut s);
        let fire = |i: usize| (0..11).filter(|&t| s[t * 4 + i] == 1.0).collect::<Vec<_>>();
        assert_eq!(
            (fire(0), fire(1), fire(2), fire(3)),
            (vec![], vec![0], vec![5], vec![8])
        );
    }
}
