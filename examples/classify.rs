//! Classify N-MNIST event files with a trained model.
//!
//! ```sh
//! cargo run --release --example classify -- runs/nmnist ../shared/data/nmnist-small/Test/7/*.bin
//! ```
//!
//! Reads `config.json` and `model-best.bpk` from the run directory, bins each file as in
//! training, and prints the predicted digit with the output spike counts.
//!
//! With `--stream` (after the run directory), each file is replayed as a live event stream
//! instead (see the `stream` example): the digit, the time from which it stood, and the
//! processing time. PSP-LN models stream in their default causal form.

#[path = "common/replay.rs"]
mod replay;

use burn::config::Config;
use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn_snn::data::{Binning, NmnistBatcher, NmnistItem, decode_events};
use burn_snn::model::{predict, spike_counts};
use burn_snn::train::ExperimentConfig;
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(run), mut files) = (args.next().map(PathBuf::from), args.collect::<Vec<_>>()) else {
        eprintln!("usage: classify <run-dir> [--stream] <file.bin>...");
        std::process::exit(2);
    };
    let stream = files.first().is_some_and(|f| f == "--stream");
    if stream {
        files.remove(0);
    }
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
        if stream {
            let steps = batcher.binning.steps;
            let dt_us = batcher.binning.dt_us;
            let form = burn_snn::functional::CausalLayerNorm::default();
            match replay::replay(&model, &events, steps, dt_us, &form, false, &device) {
                Ok(out) => println!(
                    "{file}: {}   decided at {}, {steps} steps in {:.1} ms",
                    out.class,
                    out.decided.map_or("—".into(), |t| format!(
                        "{:.0} ms",
                        (t + 1) as f64 * f64::from(dt_us) / 1e3
                    )),
                    out.busy.as_secs_f64() * 1e3
                ),
                Err(e) => eprintln!("{file}: {e}"),
            }
            continue;
        }
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
