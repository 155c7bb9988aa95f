//! Command-line options shared by the N-MNIST and Fashion-MNIST examples.

pub mod logger;

use burn::tensor::Device;
use burn_snn::SrmConfig;
use burn_snn::data::SpikeData;
use burn_snn::model::{Architecture, NetworkSpec};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::Normalization;
use burn_snn::train::{ExperimentConfig, OptimizerKind, RunOptions, RunReport, TrainError, train};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Preset {
    /// The paper's Table 1 settings.
    Paper,
    /// A reduced setting that shows learning within minutes on 2 CPU cores.
    CpuSmall,
    /// The paper's deep networks (Table 2's 13 layers, ResNet-32) at a reduced size: about 8
    /// minutes per run on 2 CPU cores (see README for what it shows).
    CpuDeep,
}

/// `cpu`, `wgpu`, `cuda` or `cuda:N`.
#[derive(Clone, Copy, Debug)]
pub enum DeviceArg {
    /// Burn's Flex CPU backend.
    Cpu,
    /// The GPU through wgpu (needs the `wgpu` feature).
    Wgpu,
    /// NVIDIA GPU `N` through CUDA (needs the `cuda` feature).
    Cuda(usize),
}

impl std::str::FromStr for DeviceArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "wgpu" => Ok(Self::Wgpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| format!("unknown device {s:?}; expected cpu, wgpu, cuda or cuda:N")),
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SweepArg {
    /// PSP time constant τs (the paper's Fig. 8: 1, 5, 10).
    TauS,
    /// PSP-normalization λ (Fig. 9).
    Lambda,
    /// The model: a normalization (with the preset's network for it) or an architecture
    /// (e.g. resnet32-pre, with --norm); Tables 2 and 3 side by side.
    Model,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OptimizerArg {
    Adabelief,
    Adam,
}

/// Options common to both examples; unset values come from the preset.
#[derive(Parser, Debug)]
pub struct Common {
    /// Settings to start from.
    #[arg(long, value_enum, default_value = "cpu-small")]
    pub preset: Preset,
    /// Architecture: a Table 2 string, or resnet<depth>-pre / resnet<depth>-post (e.g. resnet106-pre).
    #[arg(long)]
    pub arch: Option<Architecture>,
    /// Stage widths of a ResNet, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub widths: Vec<usize>,
    /// Normalization: none, psp-bn, psp-ln, bn, bntt, tdbn.
    #[arg(long)]
    pub norm: Option<Normalization>,
    /// Time steps T.
    #[arg(long = "steps", short = 'T')]
    pub steps: Option<usize>,
    /// Batch size.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training samples drawn per epoch (0: all).
    #[arg(long)]
    pub samples_per_epoch: Option<usize>,
    /// Validation samples evaluated per epoch (0: all).
    #[arg(long)]
    pub valid_samples: Option<usize>,
    /// Optimizer.
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerArg>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Weight decay.
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// AdaBelief's rectification (adabelief-pytorch's default: true). Default: the preset's
    /// (paper: true; the CPU presets, whose few hundred steps lie inside its warm-up: false).
    #[arg(long)]
    pub rectify: Option<bool>,
    /// PSP time constant τs, in steps. Default: the preset's.
    #[arg(long)]
    pub tau_s: Option<f64>,
    /// Refractory time constant τr, in steps. Default: the preset's.
    #[arg(long)]
    pub tau_r: Option<f64>,
    /// Synapse weight scale. Default: the preset's.
    #[arg(long)]
    pub weight_scale: Option<f64>,
    /// λ of the PSP normalization.
    #[arg(long)]
    pub lambda: Option<f64>,
    /// Seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Device: cpu, wgpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
    /// Data directory (offline); default: the cache, downloading when missing.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run directory for the config, metrics, plots, checkpoints and models.
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Continue a killed run from the last checkpoint in --run-dir.
    #[arg(long)]
    pub resume: bool,
    /// Train once per value of this parameter (into <run-dir>/<param>-<value>) and write sweep.csv and sweep.svg.
    #[arg(long, value_enum)]
    pub sweep: Option<SweepArg>,
    /// Values for --sweep, comma-separated (default: 1,5,10 for tau-s; 0.01,0.1,1 for lambda;
    /// the preset's models for model). With --resume, finished runs are not trained again.
    #[arg(long, value_delimiter = ',')]
    pub sweep_values: Vec<String>,
    /// Print progress every this many batches.
    #[arg(long, default_value_t = 10)]
    pub progress_every: usize,
}

/// Preset values of one data set.
pub struct Defaults {
    /// The network for a normalization (its markers follow the normalization).
    pub arch: fn(Normalization) -> String,
    pub steps: usize,
    pub batch: usize,
    pub epochs: usize,
    pub samples_per_epoch: usize,
    pub valid_samples: usize,
    /// Stage widths of a ResNet.
    pub widths: &'static [usize],
    /// What `--sweep model` compares by default.
    pub models: &'static [&'static str],
    /// τs = τr, in steps (Table 1: 10 steps of 1 ms).
    pub tau: f64,
    /// Synapse weight scale (Table 1: 10).
    pub weight_scale: f64,
    /// AdaBelief's rectification: the reference's default (true) for the paper preset. Its
    /// RAdam warm-up scales the adaptive step down (to 3% of the unrectified step at step 6,
    /// 37% at step 300, 92% at step 3,000), so runs of a few hundred steps turn it off.
    pub rectify: bool,
}

/// The presets of one data set.
pub struct Presets {
    pub paper: Defaults,
    pub cpu_small: Defaults,
    pub cpu_deep: Defaults,
}

/// `spec` with its normalization markers set for `norm` (a preset's architecture written once
/// for every normalization).
pub fn marked(spec: &str, norm: Normalization) -> String {
    NetworkSpec::parse(spec)
        .expect("a preset's architecture parses")
        .with_norm_markers(norm)
        .to_string()
}

impl Common {
    fn defaults(&self, presets: Presets) -> Defaults {
        match self.preset {
            Preset::Paper => presets.paper,
            Preset::CpuSmall => presets.cpu_small,
            Preset::CpuDeep => presets.cpu_deep,
        }
    }

    /// The experiment: the preset, then every option given.
    pub fn config(&self, presets: Presets) -> (ExperimentConfig, Defaults) {
        logger::init();
        let d = self.defaults(presets);
        let norm = self.norm.unwrap_or(Normalization::PspLayer);
        let settings = LayerSettings::new()
            .with_norm(norm)
            .with_num_steps(self.steps.unwrap_or(d.steps))
            .with_srm(
                SrmConfig::new()
                    .with_tau_s(self.tau_s.unwrap_or(d.tau))
                    .with_tau_r(self.tau_r.unwrap_or(d.tau)),
            )
            .with_lambda(self.lambda.unwrap_or(0.1))
            .with_weight_scale(self.weight_scale.unwrap_or(d.weight_scale));
        let config = ExperimentConfig::new(self.architecture(&d, norm, self.arch.clone()))
            .with_settings(settings)
            .with_batch_size(self.batch.unwrap_or(d.batch))
            .with_epochs(self.epochs.unwrap_or(d.epochs))
            .with_samples_per_epoch(self.samples_per_epoch.unwrap_or(d.samples_per_epoch))
            .with_valid_samples(self.valid_samples.unwrap_or(d.valid_samples))
            .with_optimizer(match self.optimizer {
                Some(OptimizerArg::Adam) => OptimizerKind::Adam,
                _ => OptimizerKind::AdaBelief,
            })
            .with_lr(self.lr.unwrap_or(1e-2))
            .with_weight_decay(self.weight_decay.unwrap_or(1e-4))
            .with_rectify(self.rectify.unwrap_or(d.rectify))
            .with_seed(self.seed.unwrap_or(2022));
        (config, d)
    }

    /// `arch` (default: the preset's network for `norm`), with the ResNet widths of
    /// `--widths` (default: the preset's).
    fn architecture(
        &self,
        d: &Defaults,
        norm: Normalization,
        arch: Option<Architecture>,
    ) -> Architecture {
        let arch = arch.unwrap_or_else(|| {
            (d.arch)(norm)
                .parse()
                .expect("a preset's architecture parses")
        });
        arch.with_widths(if self.widths.is_empty() {
            d.widths.to_vec()
        } else {
            self.widths.clone()
        })
    }

    pub fn device(&self) -> Device {
        match self.device {
            DeviceArg::Cpu => {
                burn_snn::memory::keep_freed_memory();
                burn_snn::device::cpu()
            }
            DeviceArg::Wgpu => {
                #[cfg(feature = "wgpu")]
                return Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
                #[cfg(not(feature = "wgpu"))]
                {
                    eprintln!(
                        "--device wgpu needs the wgpu feature: cargo run --release --features wgpu --example …"
                    );
                    std::process::exit(2);
                }
            }
            DeviceArg::Cuda(index) => {
                #[cfg(feature = "cuda")]
                return Device::cuda(index);
                #[cfg(not(feature = "cuda"))]
                {
                    eprintln!(
                        "--device cuda:{index} needs the cuda feature: cargo run --release --features cuda --example …"
                    );
                    std::process::exit(2);
                }
            }
        }
    }

    /// Runs the experiment (or the sweep) and prints the result.
    pub fn run(
        &self,
        name: &str,
        (config, defaults): (ExperimentConfig, Defaults),
        train_data: &dyn SpikeData,
        valid: &dyn SpikeData,
        test: &dyn SpikeData,
    ) -> Result<(), TrainError> {
        let device = self.device().autodiff();
        let base = self
            .run_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(name));
        let Some(sweep) = self.sweep else {
            let report = self.train_one(&config, train_data, valid, test, &device, base)?;
            print_result(&config, &report);
            return Ok(());
        };
        let values: Vec<String> = if self.sweep_values.is_empty() {
            match sweep {
                SweepArg::TauS => ["1", "5", "10"].map(String::from).to_vec(),
                SweepArg::Lambda => ["0.01", "0.1", "1"].map(String::from).to_vec(),
                SweepArg::Model => defaults.models.iter().map(|m| m.to_string()).collect(),
            }
        } else {
            self.sweep_values.clone()
        };
        let param = match sweep {
            SweepArg::TauS => "tau_s",
            SweepArg::Lambda => "lambda",
            SweepArg::Model => "model",
        };
        let mut csv =
            format!("{param},arch,norm,best_valid_accuracy,best_epoch,test_accuracy,seconds\n");
        let (mut points, mut curves) = (Vec::new(), Vec::new());
        for value in values {
            let number = || {
                value.parse::<f64>().unwrap_or_else(|_| {
                    eprintln!("error: --sweep {param} takes numbers, got {value:?}");
                    std::process::exit(2)
                })
            };
            let mut cfg = config.clone();
            let settings = &mut cfg.settings;
            match sweep {
                SweepArg::TauS => settings.srm.tau_s = number(),
                SweepArg::Lambda => settings.lambda = number(),
                SweepArg::Model => match value.parse::<Normalization>() {
                    Ok(norm) => {
                        settings.norm = norm;
                        cfg.arch = self.architecture(&defaults, norm, None);
                    }
                    Err(_) => {
                        let arch = value.parse().unwrap_or_else(|e| {
                            eprintln!("error: --sweep model: {e}");
                            std::process::exit(2)
                        });
                        cfg.arch = self.architecture(&defaults, settings.norm, Some(arch));
                    }
                },
            }
            let report = self.train_one(
                &cfg,
                train_data,
                valid,
                test,
                &device,
                base.join(format!("{param}-{value}")),
            )?;
            print_result(&cfg, &report);
            let test_acc = report.test.as_ref().map_or(f64::NAN, |t| t.accuracy);
            let seconds: f64 = report.state.history.iter().map(|r| r.seconds).sum();
            csv.push_str(&format!(
                "{value},{},{},{:.4},{},{test_acc:.4},{seconds:.0}\n",
                cfg.arch,
                cfg.settings.norm,
                report.state.best_valid_accuracy,
                report.state.best_epoch
            ));
            points.push((value.parse::<f64>().unwrap_or(f64::NAN), test_acc));
            curves.push(burn_snn::train::Series {
                name: value.clone(),
                points: report
                    .state
                    .history
                    .iter()
                    .map(|r| (r.epoch as f64, r.valid.accuracy))
                    .collect(),
            });
        }
        std::fs::create_dir_all(&base).ok();
        std::fs::write(base.join("sweep.csv"), csv).ok();
        let svg = match sweep {
            // A categorical sweep: validation accuracy per epoch, one curve per model.
            SweepArg::Model => burn_snn::train::line_chart(
                "Validation accuracy per epoch",
                "epoch",
                "validation accuracy",
                &curves,
                None,
            ),
            _ => burn_snn::train::line_chart(
                &format!("Test accuracy vs {param}"),
                param,
                "test accuracy",
                &[burn_snn::train::Series {
                    name: config.settings.norm.to_string(),
                    points,
                }],
                None,
            ),
        };
        std::fs::write(base.join("sweep.svg"), svg).ok();
        println!("sweep written to {}", base.join("sweep.csv").display());
        Ok(())
    }

    fn train_one(
        &self,
        cfg: &ExperimentConfig,
        train_data: &dyn SpikeData,
        valid: &dyn SpikeData,
        test: &dyn SpikeData,
        device: &Device,
        dir: PathBuf,
    ) -> Result<RunReport, TrainError> {
        let s = &cfg.settings;
        println!(
            "{} | norm {} | T {} | batch {} | {} epochs × {} samples | {:?} lr {} wd {} | τs {} τr {} λ {} weight scale {} | run dir {}",
            cfg.arch,
            s.norm,
            s.num_steps,
            cfg.batch_size,
            cfg.epochs,
            cfg.samples_per_epoch,
            cfg.optimizer,
            cfg.lr,
            cfg.weight_decay,
            s.srm.tau_s,
            s.srm.tau_r,
            s.lambda,
            s.weight_scale,
            dir.display()
        );
        let opts = RunOptions {
            dir,
            resume: self.resume,
            progress_every: self.progress_every,
        };
        train(cfg, train_data, valid, Some(test), device, &opts)
    }
}

fn print_result(cfg: &ExperimentConfig, report: &RunReport) {
    let test = report.test.as_ref().map_or(f64::NAN, |t| t.accuracy);
    let seconds: f64 = report.state.history.iter().map(|r| r.seconds).sum();
    println!(
        "RESULT {} norm={} T={} | best valid {:.2}% (epoch {}) | test {:.2}% | {:.0} s",
        cfg.arch,
        cfg.settings.norm,
        cfg.steps(),
        100.0 * report.state.best_valid_accuracy,
        report.state.best_epoch,
        100.0 * test,
        seconds
    );
}
