//! The real data sets in `$BURN_SNN_DATA` (`fashion-mnist/`, `nmnist-small/`).
//!
//! The tests are `#[ignore]`d so that a plain `cargo test` reports them as ignored rather than
//! passing without data; run them with
//! `BURN_SNN_DATA=DIR cargo test --test real_data -- --include-ignored` (`.ci/run` does).

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use burn_snn::data::{
    Binning, ImageBatcher, ImageDataset, ImageEncoder, NmnistBatcher, NmnistDataset, Split,
};
use std::path::PathBuf;

/// `$BURN_SNN_DATA/name`; a run that includes these tests without the data fails, naming what
/// is missing.
fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::var_os("BURN_SNN_DATA")
        .map(|dir| PathBuf::from(dir).join(name))
        .unwrap_or_else(|| {
            panic!("BURN_SNN_DATA is not set: point it at the folder holding {name}/")
        });
    assert!(dir.is_dir(), "{} is not a directory", dir.display());
    dir
}

#[test]
#[ignore = "needs BURN_SNN_DATA"]
fn every_nmnist_file_parses_with_about_4100_events() {
    let root = data_dir("nmnist-small");
    for (split, count) in [(Split::Train, 1000), (Split::Test, 100)] {
        let ds = NmnistDataset::from_dir(&root, split).expect("official layout");
        assert_eq!(ds.len(), count);
        let mut events = 0usize;
        let mut per_class = [0usize; 10];
        for i in 0..ds.len() {
            let item = ds.get(i).unwrap_or_else(|e| panic!("{e}"));
            assert!(item.events.iter().all(|e| e.x < 34 && e.y < 34));
            events += item.events.len();
            per_class[item.label] += 1;
        }
        let mean = events as f64 / count as f64;
        println!("{split:?}: {count} samples, mean {mean:.0} events, per class {per_class:?}");
        assert!(
            (3700.0..4500.0).contains(&mean),
            "mean events per sample {mean}"
        );
        assert!(per_class.iter().all(|&n| n > 0));
    }
}

#[test]
#[ignore = "needs BURN_SNN_DATA"]
fn nmnist_batches_have_the_paper_shape() {
    let root = data_dir("nmnist-small");
    let ds = NmnistDataset::from_dir(&root, Split::Test).unwrap();
    let items: Vec<_> = (0..4).map(|i| ds.get(i).unwrap()).collect();
    let events: usize = items.iter().map(|i| i.events.len()).sum();
    let batch = NmnistBatcher {
        binning: Binning::default(),
    }
    .batch(items, &Device::default());
    assert_eq!(batch.spikes.dims(), [4, 300, 2, 34, 34]);
    let spikes = batch.spikes.sum().into_scalar::<f32>() as usize;
    // Binning merges events of one pixel within 1 ms and drops those after 300 ms: fewer
    // spikes than events, but most of them survive.
    println!("{events} events -> {spikes} spikes");
    assert!(
        spikes <= events && spikes * 10 >= events * 8,
        "{events} events, {spikes} spikes"
    );
}

#[test]
#[ignore = "needs BURN_SNN_DATA"]
fn fashion_mnist_counts_and_pixel_mean() {
    let dir = data_dir("fashion-mnist");
    for (split, per_class) in [(Split::Train, 6000), (Split::Test, 1000)] {
        let ds = ImageDataset::from_dir(&dir, split).expect("IDX files");
        assert_eq!(ds.image_size(), [28, 28]);
        let mut counts = [0usize; 10];
        for i in 0..ds.len() {
            counts[ds.label(i)] += 1;
        }
        assert_eq!(counts, [per_class; 10], "{split:?}");
        let mean = ds.pixel_mean();
        println!("{split:?}: pixel mean {mean:.4}");
        assert!((mean - 0.286).abs() < 0.002, "pixel mean {mean}");
    }
    let ds = ImageDataset::from_dir(&dir, Split::Test).unwrap();
    let items: Vec<_> = (0..3).map(|i| ds.get(i).unwrap()).collect();
    let batch = ImageBatcher {
        encoder: ImageEncoder::default(),
    }
    .batch(items, &Device::default());
    assert_eq!(batch.spikes.dims(), [3, 100, 1, 34, 34]);
}
