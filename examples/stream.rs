//! Replays N-MNIST recordings as live event streams through trained models: the model sees the
//! events as they arrive, one time step after another, and its answer firms up as it goes.
//!
//! ```sh
//! cargo run --release --example stream -- runs/nmnist --data ../shared/data/nmnist-small
//! ```
//!
//! For every run directory (`config.json`, `model-best.bpk`), each test recording is pushed
//! event by event into an `EventBinner` (steps of the run's `dt`); every completed step runs
//! through the model's `Streaming` state, with constant memory. Prints, per recording, the
//! class, the time from which it no longer changed, and the processing time; then the
//! streamed accuracy beside the whole-sequence forward's, and writes `stream.svg`: accuracy
//! against observation time (ms of events seen), one line per model.
//!
//! `--realtime` delivers the events at their timestamps instead of as fast as possible.
//! PSP-LN models stream in a causal form (`--layer-norm trained|running|calibrated`: the
//! running average kept in training, the default; the statistic of the steps seen; or one
//! calibrated on `--calibrate` training recordings).

#[path = "common/replay.rs"]
mod replay;

use burn::config::Config;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::tensor::Device;
use burn_snn::data::{Binning, NmnistBatcher, NmnistDataset, NmnistItem, Split};
use burn_snn::functional::CausalLayerNorm;
use burn_snn::model::{SnnModel, Streaming, predict, spike_counts};
use burn_snn::train::{ExperimentConfig, Series, XAxis, write_chart};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum LayerNormArg {
    Trained,
    Running,
    Calibrated,
}

#[derive(Parser, Debug)]
#[command(about = "Stream N-MNIST recordings through trained models")]
struct Args {
    /// Run directories (config.json, model-best.bpk).
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// The N-MNIST folder (Train/, Test/).
    #[arg(long)]
    data: PathBuf,
    /// Test recordings to stream (all when 0).
    #[arg(long, default_value_t = 0)]
    samples: usize,
    /// Deliver events at their timestamps.
    #[arg(long)]
    realtime: bool,
    /// PSP-LN's causal form on a stream.
    #[arg(long, value_enum, default_value = "trained")]
    layer_norm: LayerNormArg,
    /// Training recordings that calibrate PSP-LN's form.
    #[arg(long, default_value_t = 100)]
    calibrate: usize,
    /// Where to write the accuracy-against-time chart.
    #[arg(long, default_value = "stream.svg")]
    plot: PathBuf,
    /// Only the summary per model, not one line per recording.
    #[arg(long)]
    quiet: bool,
}

fn main() {
    let args = Args::parse();
    let device = burn_snn::device::cpu();
    let test = NmnistDataset::from_dir(&args.data, Split::Test).unwrap_or_else(|e| fail(&e));
    let count = if args.samples == 0 {
        test.len()
    } else {
        args.samples.min(test.len())
    };
    let items: Vec<NmnistItem> = (0..count)
        .map(|i| test.read(i).unwrap_or_else(|e| fail(&e)))
        .collect();
    let mut series = Vec::new();
    for run in &args.runs {
        let (model, config) = load(run, &device);
        let steps = config.steps();
        let dt_us = (300_000 / steps) as u32;
        let binning = Binning { steps, dt_us };
        let form = match args.layer_norm {
            LayerNormArg::Trained => CausalLayerNorm::Trained,
            LayerNormArg::Running => CausalLayerNorm::Running,
            LayerNormArg::Calibrated => calibrate(&model, &args, binning, &device),
        };
        // The whole-sequence forward, for reference.
        let batcher = NmnistBatcher { binning };
        let mut whole_correct = 0;
        for chunk in items.chunks(10) {
            let batch = batcher.batch(chunk.to_vec(), &device);
            let classes: Vec<i64> = predict(spike_counts(model.forward(batch.spikes)))
                .into_data()
                .convert::<i64>()
                .try_to_vec()
                .expect("i64");
            whole_correct += classes
                .iter()
                .zip(chunk)
                .filter(|(c, item)| **c as usize == item.label)
                .count();
        }
        let mut correct_at = vec![0usize; steps];
        let (mut correct, mut decided_ms, mut busy) = (0, Vec::new(), 0.0);
        for (i, item) in items.iter().enumerate() {
            let out = replay::replay(
                &model,
                &item.events,
                steps,
                dt_us,
                &form,
                args.realtime,
                &device,
            )
            .unwrap_or_else(|e| fail(&e));
            for (t, class) in out.running.iter().enumerate() {
                correct_at[t] += usize::from(*class == Some(item.label));
            }
            correct += usize::from(out.class == item.label);
            let decided = out.decided.map(|t| (t + 1) as f64 * dt_us as f64 / 1e3);
            decided_ms.extend(decided);
            busy += out.busy.as_secs_f64();
            if !args.quiet {
                let (file, _) = test.file(i);
                println!(
                    "{}: class {} (label {}), decided at {}, {steps} steps in {:.1} ms",
                    file.display(),
                    out.class,
                    item.label,
                    decided.map_or("—".into(), |ms| format!("{ms:.0} ms")),
                    out.busy.as_secs_f64() * 1e3,
                );
            }
        }
        decided_ms.sort_by(f64::total_cmp);
        let median = decided_ms
            .get(decided_ms.len() / 2)
            .copied()
            .unwrap_or(f64::NAN);
        let name = run
            .file_name()
            .map_or_else(|| run.display().to_string(), |n| n.to_string_lossy().into());
        println!(
            "{name} ({arch}, {norm}, T = {steps} × {dt} ms): streamed {correct}/{count} ({:.1}%), whole sequence {whole_correct}/{count}; decided at {median:.0} ms (median); {:.2} ms per step, real time ×{:.1}",
            100.0 * correct as f64 / count as f64,
            busy * 1e3 / (count * steps) as f64,
            (count * steps) as f64 * dt_us as f64 * 1e-6 / busy,
            arch = config.arch,
            norm = config.settings.norm,
            dt = dt_us as f64 / 1e3,
        );
        series.push(Series {
            name: format!(
                "{name} (whole sequence {:.0}%)",
                100.0 * whole_correct as f64 / count as f64
            ),
            points: correct_at
                .iter()
                .enumerate()
                .map(|(t, &c)| {
                    (
                        (t + 1) as f64 * dt_us as f64 / 1e3,
                        100.0 * c as f64 / count as f64,
                    )
                })
                .collect(),
        });
    }
    write_chart(
        &args.plot,
        "N-MNIST streamed: accuracy against observation time",
        "events seen (ms)",
        "test accuracy (%)",
        &series,
        XAxis::Numeric,
    )
    .unwrap_or_else(|e| fail(&e));
    println!("wrote {}", args.plot.display());
}

/// The model of a run directory and its experiment.
fn load(run: &std::path::Path, device: &Device) -> (SnnModel, ExperimentConfig) {
    let config = ExperimentConfig::load(run.join("config.json"))
        .unwrap_or_else(|e| fail(&format!("{}: {e}", run.join("config.json").display())));
    let model = config
        .build_model([2, 34, 34], 10, device)
        .unwrap_or_else(|e| fail(&e))
        .try_load_file(run.join("model-best.bpk"))
        .unwrap_or_else(|e| fail(&format!("{}: {e}", run.join("model-best.bpk").display())));
    (model, config)
}

/// PSP-LN's calibrated form from the first `--calibrate` training recordings.
fn calibrate(model: &SnnModel, args: &Args, binning: Binning, device: &Device) -> CausalLayerNorm {
    let train = NmnistDataset::from_dir(&args.data, Split::Train).unwrap_or_else(|e| fail(&e));
    let items: Vec<NmnistItem> = (0..args.calibrate.min(train.len()))
        .map(|i| train.read(i).unwrap_or_else(|e| fail(&e)))
        .collect();
    let batcher = NmnistBatcher { binning };
    model.calibrate_layer_norm(
        items
            .chunks(10)
            .map(|chunk| batcher.batch(chunk.to_vec(), device).spikes),
    )
}

fn fail(message: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
