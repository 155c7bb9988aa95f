//! The N-MNIST data set in its official layout: `Train/<digit>/<id>.bin`, `Test/<digit>/<id>.bin`.

use super::{DataError, Event, Split, decode_events};
use burn::data::dataset::Dataset;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// One N-MNIST sample: its events and its digit.
#[derive(Clone, Debug, PartialEq)]
pub struct NmnistItem {
    /// The address events, in file order.
    pub events: Vec<Event>,
    /// The digit, `0..10`.
    pub label: usize,
}

/// N-MNIST samples of one split, read from their files on demand.
///
/// Opening lists the files (and checks that every class folder exists); [`Dataset::get`]
/// reads and decodes one file, returning a [`DataError`] that names the file when it is
/// malformed. [`NmnistDataset::check`] decodes every file up front, in parallel.
///
/// ```no_run
/// use burn::data::dataloader::batcher::Batcher;
/// use burn::data::dataset::Dataset;
/// use burn_snn::data::{Binning, NmnistBatcher, NmnistDataset, Split};
///
/// let device = burn_snn::device::cpu();
/// let test = NmnistDataset::from_dir("data/nmnist", Split::Test)?;
/// let items = (0..10).map(|i| test.read(i)).collect::<Result<Vec<_>, _>>()?;
/// // 300 steps of 1 ms (the paper's N-MNIST window): [10, 300, 2, 34, 34] spikes.
/// let batch = NmnistBatcher { binning: Binning::default() }.batch(items, &device);
/// assert_eq!(batch.spikes.dims(), [10, 300, 2, 34, 34]);
/// # Ok::<(), burn_snn::data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct NmnistDataset {
    files: Vec<(PathBuf, usize)>,
}

impl NmnistDataset {
    /// The split under `root` (which holds `Train/` and `Test/`).
    pub fn from_dir(root: impl AsRef<Path>, split: Split) -> Result<Self, DataError> {
        let dir = root.as_ref().join(match split {
            Split::Train => "Train",
            Split::Test => "Test",
        });
        if !dir.is_dir() {
            return Err(DataError::Missing(format!(
                "N-MNIST: no folder {} (expected the official layout <root>/Train/<digit>/<id>.bin and <root>/Test/<digit>/<id>.bin)",
                dir.display()
            )));
        }
        let mut files = Vec::new();
        for digit in 0..10 {
            let class_dir = dir.join(digit.to_string());
            if !class_dir.is_dir() {
                return Err(DataError::Missing(format!(
                    "N-MNIST: class folder {} is missing (expected one folder per digit 0-9)",
                    class_dir.display()
                )));
            }
            let mut class_files: Vec<(u64, PathBuf)> = Vec::new();
            for entry in std::fs::read_dir(&class_dir).map_err(|e| DataError::io(&class_dir, e))? {
                let path = entry.map_err(|e| DataError::io(&class_dir, e))?.path();
                if path.extension().is_some_and(|ext| ext == "bin") {
                    // Numeric ids sort numerically; other names after them, by name.
                    let id = path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .and_then(|s| s.parse().ok());
                    class_files.push((id.unwrap_or(u64::MAX), path));
                }
            }
            class_files.sort();
            files.extend(class_files.into_iter().map(|(_, path)| (path, digit)));
        }
        if files.is_empty() {
            return Err(DataError::Missing(format!(
                "N-MNIST: no .bin files under {}",
                dir.display()
            )));
        }
        Ok(Self { files })
    }

    /// Reads and decodes sample `index`.
    pub fn read(&self, index: usize) -> Result<NmnistItem, DataError> {
        let (path, label) = &self.files[index];
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        let events = decode_events(&bytes).map_err(|e| e.in_file(path))?;
        Ok(NmnistItem {
            events,
            label: *label,
        })
    }

    /// The file and label of sample `index`.
    pub fn file(&self, index: usize) -> (&Path, usize) {
        let (path, label) = &self.files[index];
        (path, *label)
    }

    /// Decodes every file (in parallel); the first error found, if any.
    pub fn check(&self) -> Result<(), DataError> {
        (0..self.files.len())
            .into_par_iter()
            .try_for_each(|i| self.read(i).map(|_| ()))
    }
}

impl Dataset<NmnistItem, DataError> for NmnistDataset {
    fn get(&self, index: usize) -> Result<NmnistItem, DataError> {
        assert!(
            index < self.files.len(),
            "NmnistDataset: index {index} >= len {}",
            self.files.len()
        );
        self.read(index)
    }

    fn len(&self) -> usize {
        self.files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("burn-snn-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn reads_the_layout_and_reports_bad_files_and_missing_classes() {
        let root = temp_root("nmnist");
        for d in 0..10 {
            std::fs::create_dir_all(root.join("Train").join(d.to_string())).unwrap();
        }
        std::fs::write(root.join("Train/3/10.bin"), [1, 2, 0x80, 0, 5]).unwrap();
        std::fs::write(root.join("Train/3/9.bin"), [1, 2, 0, 0, 7]).unwrap();
        std::fs::write(root.join("Train/7/1.bin"), [1, 2, 0, 0]).unwrap();
        let ds = NmnistDataset::from_dir(&root, Split::Train).unwrap();
        assert_eq!(ds.len(), 3);
        // Numeric order within a class: 9 before 10.
        assert_eq!(ds.get(0).unwrap().events[0].t_us, 7);
        assert_eq!(
            ds.get(1).unwrap().events[0],
            Event {
                x: 1,
                y: 2,
                on: true,
                t_us: 5
            }
        );
        let err = ds.get(2).unwrap_err().to_string();
        assert!(
            err.contains("7/1.bin") && err.contains("4 bytes is not a whole number"),
            "{err}"
        );
        assert!(ds.check().is_err());

        let err = NmnistDataset::from_dir(&root, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Test") && err.contains("official layout"),
            "{err}"
        );
        std::fs::remove_dir_all(root.join("Train/5")).unwrap();
        let err = NmnistDataset::from_dir(&root, Split::Train)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("class folder") && err.contains("Train/5"),
            "{err}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
