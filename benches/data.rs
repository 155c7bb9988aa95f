//! Data throughput in samples per second: N-MNIST decode + bin (T = 300) and Fashion-MNIST
//! resize + rate encoding (T = 100), per sample and as a batch of 10 (parallel, with the
//! tensor built). Uses `$BURN_SNN_DATA` when set, else generated samples of the same size.
//!
//! Run: `cargo bench --bench data`

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use burn_snn::data::{
    Binning, ImageBatcher, ImageEncoder, ImageItem, NmnistBatcher, NmnistDataset, NmnistItem,
    Split, decode_events,
};
use divan::{Bencher, counter::ItemsCount};

fn main() {
    divan::main();
}

/// Raw `.bin` files: the real ones, or 4,100 generated events over 300 ms.
fn nmnist_files() -> Vec<Vec<u8>> {
    if let Some(dir) = std::env::var_os("BURN_SNN_DATA") {
        let ds =
            NmnistDataset::from_dir(std::path::Path::new(&dir).join("nmnist-small"), Split::Test)
                .unwrap();
        return (0..ds.len())
            .map(|i| std::fs::read(ds.file(i).0).unwrap())
            .collect();
    }
    (0..100u32)
        .map(|s| {
            (0..4100u32)
                .flat_map(|i| {
                    let t = (i * 73 + s) % 300_000;
                    let [_, a, b, c] = (((i % 2) << 23) | t).to_be_bytes();
                    [(i % 34) as u8, (i * 7 % 34) as u8, a, b, c]
                })
                .collect()
        })
        .collect()
}

#[divan::bench(sample_count = 20)]
fn nmnist_decode_and_bin(bencher: Bencher) {
    let files = nmnist_files();
    let binning = Binning::default();
    let mut i = 0;
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        i = (i + 1) % files.len();
        binning.bin(&decode_events(&files[i]).unwrap())
    });
}

#[divan::bench(sample_count = 20)]
fn nmnist_batch_of_10(bencher: Bencher) {
    let items: Vec<NmnistItem> = nmnist_files()
        .iter()
        .take(10)
        .map(|f| NmnistItem {
            events: decode_events(f).unwrap(),
            label: 0,
        })
        .collect();
    let batcher = NmnistBatcher::default();
    let device = Device::default();
    bencher
        .counter(ItemsCount::new(10usize))
        .bench_local(|| batcher.batch(items.clone(), &device));
}

fn image() -> ImageItem {
    let pixels = (0..784).map(|i| ((i * 37) % 256) as u8).collect();
    ImageItem {
        pixels,
        rows: 28,
        cols: 28,
        label: 0,
        index: 0,
    }
}

#[divan::bench(sample_count = 20)]
fn fmnist_encode_rate(bencher: Bencher) {
    let encoder = ImageEncoder::default();
    let item = image();
    let mut out = vec![0.0; encoder.sample_len()];
    bencher.counter(ItemsCount::new(1usize)).bench_local(|| {
        out.iter_mut().for_each(|x| *x = 0.0);
        encoder.encode_into(&item.pixels, [28, 28], item.index, &mut out);
    });
}

#[divan::bench(sample_count = 20)]
fn fmnist_batch_of_10(bencher: Bencher) {
    let items: Vec<ImageItem> = (0..10)
        .map(|i| ImageItem {
            index: i,
            ..image()
        })
        .collect();
    let batcher = ImageBatcher::default();
    let device = Device::default();
    bencher
        .counter(ItemsCount::new(10usize))
        .bench_local(|| batcher.batch(items.clone(), &device));
}
