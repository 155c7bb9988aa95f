//! Train on N-MNIST (the paper's Table 2 and Table 3 N-MNIST rows).
//!
//! ```sh
//! cargo run --release --example nmnist -- --preset cpu-small --data ../shared/data/nmnist-small
//! cargo run --release --example nmnist -- --preset paper --norm psp-bn
//! cargo run --release --example nmnist -- --arch resnet106-pre --epochs 50
//! cargo run --release --example nmnist -- --sweep tau-s
//! ```
//!
//! Events are binned into T steps spanning 300 ms (dt = 300 ms / T; the paper: T = 300,
//! dt = 1 ms). N-MNIST has no validation split, so 10% of the training files (seeded) are held
//! out for validation and best-model selection; the best model is then tested on `Test/`.

#[path = "common/mod.rs"]
mod common;

use burn::data::dataset::Dataset;
use burn_snn::data::DatasetSource;
use burn_snn::data::{
    Binning, DataError, NmnistBatcher, NmnistDataset, NmnistItem, Split, Subset, nmnist_dir,
    train_validation_split,
};
use clap::Parser;
use common::{Common, Defaults};
use std::sync::Arc;

const TABLE2: &str = "34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10";

fn main() {
    let args = Common::parse();
    let config = args.config(
        Defaults {
            arch: TABLE2,
            steps: 300,
            batch: 10,
            epochs: 100,
            samples_per_epoch: 6000,
            valid_samples: 0,
        },
        Defaults {
            arch: "34x34x2-n8c3-p2-n16c3-p2-n32c3-10",
            steps: 60,
            batch: 10,
            epochs: 12,
            samples_per_epoch: 0,
            valid_samples: 0,
        },
    );
    let root = nmnist_dir(args.data.as_deref()).unwrap_or_else(|e| fail(&e));
    let binning = Binning {
        steps: config.steps,
        dt_us: (300_000 / config.steps) as u32,
    };
    let open = |split| NmnistDataset::from_dir(&root, split).unwrap_or_else(|e| fail(&e));
    let source = |ds: Subset<NmnistDataset, NmnistItem, DataError>| {
        DatasetSource::new(ds, NmnistBatcher { binning }, [34, 34, 2], 10)
    };
    // N-MNIST has no validation split: hold out 10% of the training files (seeded).
    let full = Arc::new(open(Split::Train));
    let (train_idx, valid_idx) = train_validation_split(full.len(), full.len() / 10, config.seed);
    let train = source(Subset::new(full.clone(), train_idx));
    let valid = source(Subset::new(full, valid_idx));
    let test = DatasetSource::new(
        open(Split::Test),
        NmnistBatcher { binning },
        [34, 34, 2],
        10,
    );
    if let Err(e) = args.run("nmnist", config, &train, &valid, &test) {
        fail(&e);
    }
}

fn fail(e: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {e}");
    std::process::exit(1);
}
