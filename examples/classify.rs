//! Classify N-MNIST event files with a trained model.
//!
//! ```sh
//! cargo run --release --example classify -- runs/nmnist ../shared/data/nmnist-small/Test/7/*.bin
//! ```
//!
//! Reads `config.json` and `model-best.bpk` from the run directory, bins each file as in
//! training, and prints the predicted digit with the output spike counts.

use burn::config::Config;
use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn_snn::data::{Binning, NmnistBatcher, NmnistItem, decode_events};
use burn_snn::model::{predict, spike_counts};
use burn_snn::train::ExperimentConfig;
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(run), files) = (args.next().map(PathBuf::from), args.collect::<Vec<_>>()) else {
        eprintln!("usage: classify <run-dir> <file.bin>...");
        std::process::exit(2);
    };
    let config = ExperimentConfig::load(run.join("config.json"))
        .unwrap_or_else(|e| fail(&format!("{}: {e}", run.join("config.json").display())));
    let device = burn_snn::device::cpu();
    let model = config
        .build_model([2, 34, 34], 10, &device)
        .unwrap_or_else(|e| fail(&e.to_string()))
        .try_load_file(run.join("model-best.bpk"))
        .unwrap_or_else(|e| fail(&format!("{}: {e}", run.join("model-best.bpk").display())));
    let batcher = NmnistBatcher {
        binning: Binning {
            steps: config.steps(),
            dt_us: (300_000 / config.steps()) as u32,
        },
    };
    for file in files {
        let events = std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| decode_events(&bytes).map_err(|e| e.to_string()));
        let events = match events {
            Ok(events) => events,
            Err(e) => {
                eprintln!("{file}: {e}");
                continue;
            }
        };
        let batch = batcher.batch(vec![NmnistItem { events, label: 0 }], &device);
        let counts = spike_counts(model.forward(batch.spikes));
        let digit = predict(counts.clone()).into_scalar::<i64>();
        let counts: Vec<f32> = counts
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .expect("f32");
        println!("{file}: {digit}   spike counts {counts:?}");
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
