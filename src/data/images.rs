//! MNIST-format image data sets (Fashion-MNIST, MNIST) from their four IDX files.

use super::{DataError, Split, read_idx_file};
use burn::data::dataset::Dataset;
use std::path::Path;
use std::sync::Arc;

/// One grayscale image and its class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageItem {
    /// Row-major pixels, `rows × cols`, 0–255.
    pub pixels: Vec<u8>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Class, `0..10`.
    pub label: usize,
    /// Index of the image in its file (seeds reproducible spike encodings).
    pub index: usize,
}

/// The images and labels of one split, held in memory (47 MB for Fashion-MNIST's train split).
///
/// ```no_run
/// use burn::data::dataset::Dataset;
/// use burn_snn::data::{ImageDataset, Split, fashion_mnist_dir};
///
/// // The cache (downloading when missing, feature `download`), or `Some(dir)` offline.
/// let dir = fashion_mnist_dir(None)?;
/// let train = ImageDataset::from_dir(&dir, Split::Train)?;
/// let item = train.get(0)?;
/// assert_eq!((item.rows, item.cols), (28, 28));
/// # Ok::<(), burn_snn::data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ImageDataset {
    images: Arc<Vec<u8>>,
    labels: Arc<Vec<u8>>,
    rows: usize,
    cols: usize,
}

/// File names of the MNIST format (shared by MNIST and Fashion-MNIST).
pub const IDX_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

impl ImageDataset {
    /// Reads the split from `dir`, holding `train-images-idx3-ubyte[.gz]`,
    /// `train-labels-idx1-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`
    /// (Fashion-MNIST or MNIST; `.gz` or raw).
    ///
    /// Checks that images are `[n, rows, cols]` with non-zero rows and columns, labels `[n]`
    /// with the same `n`, and every label is below 10.
    pub fn from_dir(dir: impl AsRef<Path>, split: Split) -> Result<Self, DataError> {
        let dir = dir.as_ref();
        let (images, labels) = match split {
            Split::Train => (IDX_FILES[0], IDX_FILES[1]),
            Split::Test => (IDX_FILES[2], IDX_FILES[3]),
        };
        let find = |name: &str| {
            [format!("{name}.gz"), name.to_string()]
                .into_iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    DataError::Missing(format!(
                        "no {name}.gz (or {name}) in {}; expected the four MNIST-format files {}",
                        dir.display(),
                        IDX_FILES.map(|f| format!("{f}.gz")).join(", ")
                    ))
                })
        };
        let image_path = find(images)?;
        let label_path = find(labels)?;
        let images = read_idx_file(&image_path)?;
        let labels = read_idx_file(&label_path)?;
        let bad = |path: &Path, detail: String| {
            Err(DataError::format(path.display().to_string(), detail))
        };
        let [n, rows, cols] = images.dims[..] else {
            return bad(
                &image_path,
                format!("expected 3 dims [count, rows, cols], got {:?}", images.dims),
            );
        };
        if rows == 0 || cols == 0 {
            return bad(
                &image_path,
                format!(
                    "images of {rows}x{cols} pixels (dims {:?}): expected non-zero rows and columns",
                    images.dims
                ),
            );
        }
        if labels.dims != [n] {
            return bad(
                &label_path,
                format!(
                    "expected labels of shape [{n}] to match the images, got {:?}",
                    labels.dims
                ),
            );
        }
        if let Some(i) = labels.data.iter().position(|&l| l >= 10) {
            return bad(
                &label_path,
                format!("label {} at index {i} is not a class 0-9", labels.data[i]),
            );
        }
        Ok(Self {
            images: Arc::new(images.data),
            labels: Arc::new(labels.data),
            rows,
            cols,
        })
    }

    /// Image height and width.
    pub fn image_size(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// Label of image `index` without copying its pixels.
    pub fn label(&self, index: usize) -> usize {
        usize::from(self.labels[index])
    }

    /// Mean pixel intensity in `[0, 1]` over the whole split.
    pub fn pixel_mean(&self) -> f64 {
        self.images.iter().map(|&p| p as u64).sum::<u64>() as f64
            / (255.0 * self.images.len() as f64)
    }
}

impl Dataset<ImageItem, DataError> for ImageDataset {
    fn get(&self, index: usize) -> Result<ImageItem, DataError> {
        assert!(
            index < self.len(),
            "ImageDataset: index {index} >= len {}",
            self.len()
        );
        let size = self.rows * self.cols;
        Ok(ImageItem {
            pixels: self.images[index * size..(index + 1) * size].to_vec(),
            rows: self.rows,
            cols: self.cols,
            label: self.label(index),
            index,
        })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_util::idx_bytes;

    /// An IDX file of zeros with these dims.
    fn idx(dims: &[u32]) -> Vec<u8> {
        idx_bytes(dims, &vec![0; dims.iter().product::<u32>() as usize])
    }

    /// Images without pixels are refused when the data set is opened, naming the file (they
    /// used to panic later, when a batch was resized).
    #[test]
    fn images_with_a_zero_dimension_are_refused_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("burn-snn-idx-zero-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (dims, ok) in [([3, 0, 28], false), ([3, 28, 0], false), ([3, 2, 2], true)] {
            std::fs::write(dir.join(IDX_FILES[2]), idx(&dims)).unwrap();
            std::fs::write(dir.join(IDX_FILES[3]), idx(&[3])).unwrap();
            match ImageDataset::from_dir(&dir, Split::Test) {
                Ok(ds) => assert!(ok, "{dims:?} accepted ({} images)", ds.len()),
                Err(e) => {
                    assert!(!ok, "{dims:?}: {e}");
                    let text = e.to_string();
                    assert!(text.contains(IDX_FILES[2]), "{text}");
                    assert!(text.contains("non-zero rows and columns"), "{text}");
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
