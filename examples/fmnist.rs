//! Train on Fashion-MNIST turned into spikes (the paper's Table 2 and Table 3 F-MNIST rows).
//!
//! ```sh
//! cargo run --release --example fmnist -- --preset cpu-small --data ../shared/data/fashion-mnist
//! cargo run --release --example fmnist -- --preset paper --norm psp-ln
//! ```
//!
//! Images are resized 28→34 (bilinear) and rate-encoded over T steps (the paper: 100). The
//! training split is divided 54,000 / 6,000 into training and validation (seeded), 6,000
//! random training samples are drawn per epoch, and the best model on validation is tested on
//! the 10,000 test images.

#[path = "common/mod.rs"]
mod common;

use burn::data::dataset::Dataset;
use burn_snn::data::DatasetSource;
use burn_snn::data::{
    DataError, ImageBatcher, ImageDataset, ImageEncoder, ImageItem, SpikeEncoding, Split, Subset,
    fashion_mnist_dir, train_validation_split,
};
use clap::Parser;
use common::{Common, Defaults};
use std::sync::Arc;

#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Spike encoding of the images.
    #[arg(long, default_value = "rate")]
    encoding: String,
}

const TABLE2: &str = "34x34x1-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10";

fn main() {
    let args = Args::parse();
    let config = args.common.config(
        Defaults {
            arch: TABLE2,
            steps: 100,
            batch: 10,
            epochs: 100,
            samples_per_epoch: 6000,
            valid_samples: 0,
        },
        Defaults {
            arch: "34x34x1-n8c3-p2-n16c3-p2-n32c3-10",
            steps: 30,
            batch: 10,
            epochs: 8,
            samples_per_epoch: 3000,
            valid_samples: 1000,
        },
    );
    let encoding = match args.encoding.as_str() {
        "rate" => SpikeEncoding::Rate,
        "latency" => SpikeEncoding::Latency,
        other => fail(&format!(
            "unknown encoding {other:?}; expected rate or latency"
        )),
    };
    let dir = fashion_mnist_dir(args.common.data.as_deref()).unwrap_or_else(|e| fail(&e));
    let full = Arc::new(ImageDataset::from_dir(&dir, Split::Train).unwrap_or_else(|e| fail(&e)));
    let (train_idx, valid_idx) = train_validation_split(full.len(), 6000, config.seed);
    let encoder = ImageEncoder {
        steps: config.steps,
        side: 34,
        encoding,
        seed: config.seed,
    };
    let source = |ds: Subset<ImageDataset, ImageItem, DataError>| {
        DatasetSource::new(
            ds,
            ImageBatcher {
                encoder: encoder.clone(),
            },
            [34, 34, 1],
            10,
        )
    };
    let train = source(Subset::new(full.clone(), train_idx));
    let valid = source(Subset::new(full, valid_idx));
    let test = DatasetSource::new(
        ImageDataset::from_dir(&dir, Split::Test).unwrap_or_else(|e| fail(&e)),
        ImageBatcher {
            encoder: ImageEncoder {
                seed: config.seed + 1,
                ..encoder.clone()
            },
        },
        [34, 34, 1],
        10,
    );
    if let Err(e) = args.common.run("fmnist", config, &train, &valid, &test) {
        fail(&e);
    }
}

fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {e}");
    std::process::exit(1);
}
