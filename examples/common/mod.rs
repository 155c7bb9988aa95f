//! Command-line options shared by the N-MNIST and Fashion-MNIST examples.

pub mod logger;

use burn::tensor::Device;
use burn_snn::SrmConfig;
use burn_snn::data::{SpikeData, train_validation_split};
use burn_snn::model::{Architecture, NetworkSpec};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::{MembraneNormOptions, Normalization, RunningVariance, TdBnScale};
use burn_snn::synapse::SynapseKernel;
use burn_snn::train::{
    ExperimentConfig, MultiDeviceStrategy, OptimizerKind, RunOptions, RunReport, Series,
    TrainError, XAxis, train, write_chart,
};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Preset {
    /// The paper's Table 1 settings.
    Paper,
    /// A reduced setting that shows learning within minutes on 2 CPU cores.
    CpuSmall,
    /// The paper's deep networks (Table 2's 13 layers, ResNet-32) at a reduced size: about 8
    /// minutes per run on 2 CPU cores (see docs/results.md for what it shows).
    CpuDeep,
}

/// `cpu`, `wgpu`, `wgpu:N`, `cuda` or `cuda:N`.
#[derive(Clone, Copy, Debug)]
pub enum DeviceArg {
    /// Burn's Flex CPU backend.
    Cpu,
    /// The GPU through wgpu (needs the `wgpu` feature): the default one, or discrete GPU `N`.
    Wgpu(Option<usize>),
    /// NVIDIA GPU `N` through CUDA (needs the `cuda` feature).
    Cuda(usize),
}

impl std::str::FromStr for DeviceArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let index = |prefix: &str| s.strip_prefix(prefix).and_then(|n| n.parse().ok());
        match s {
            "cpu" => Ok(Self::Cpu),
            "wgpu" => Ok(Self::Wgpu(None)),
            "cuda" => Ok(Self::Cuda(0)),
            _ => index("cuda:")
                .map(Self::Cuda)
                .or_else(|| index("wgpu:").map(|n| Self::Wgpu(Some(n))))
                .ok_or_else(|| {
                    format!("unknown device {s:?}; expected cpu, wgpu, wgpu:N, cuda or cuda:N")
                }),
        }
    }
}

impl DeviceArg {
    fn device(self) -> Device {
        match self {
            DeviceArg::Cpu => {
                burn_snn::memory::keep_freed_memory();
                burn_snn::device::flush_denormals();
                burn_snn::device::cpu()
            }
            DeviceArg::Wgpu(index) => {
                #[cfg(feature = "wgpu")]
                return Device::wgpu(match index {
                    Some(n) => burn::tensor::DeviceKind::DiscreteGpu(n),
                    None => burn::tensor::DeviceKind::DefaultDevice,
                });
                #[cfg(not(feature = "wgpu"))]
                {
                    let _ = index;
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
pub enum SynapseArg {
    Auto,
    Dense,
    Events,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TdBnScaleArg {
    /// λ·(α·θ), λ learned from 1 (Zheng et al.'s eq. 6).
    Paper,
    /// γ learned from α·θ (SpikingJelly).
    Folded,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RunningVarianceArg {
    /// PyTorch's.
    Unbiased,
    /// Burn's BatchNorm's.
    Biased,
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
    /// Membrane baselines: BN and BNTT start with their scale at θ instead of 1 (tdBN's
    /// start). Not the paper's setting.
    #[arg(long)]
    pub fair_start: bool,
    /// BNTT also learns a shift per step and channel (its reference learns none).
    #[arg(long)]
    pub bntt_shift: bool,
    /// How tdBN learns its scale.
    #[arg(long, value_enum, default_value = "paper")]
    pub tdbn_scale: TdBnScaleArg,
    /// Which batch variance the membrane baselines' running statistics keep.
    #[arg(long, value_enum, default_value = "unbiased")]
    pub running_variance: RunningVarianceArg,
    /// How synapses compute: auto (event-driven on the CPU, dense on GPUs), dense or events.
    #[arg(long, value_enum, default_value = "auto")]
    pub synapse: SynapseArg,
    /// Seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Device: cpu, wgpu, wgpu:N, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceArg,
    /// Several devices, comma-separated (e.g. cuda:0,cuda:1): data-parallel training with
    /// --strategy. Overrides --device.
    #[arg(long, value_delimiter = ',')]
    pub devices: Vec<DeviceArg>,
    /// Burn's strategy for several devices: multi (MultiDevice: one batch per device, the
    /// optimizer on the first) or ddp (distributed data parallel, all-reduce; CUDA with NCCL).
    #[arg(long, default_value = "multi")]
    pub strategy: MultiDeviceStrategy,
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
    /// With --sweep tau-s or lambda: run the sweep for each of these normalizations
    /// (comma-separated, each with the preset's network for it), one curve each.
    #[arg(long, value_delimiter = ',')]
    pub sweep_norms: Vec<Normalization>,
    /// Test on this many images of the test split (a fixed seeded subset, the same for every
    /// run; 0: all). Default: the preset's.
    #[arg(long)]
    pub test_samples: Option<usize>,
    /// Values for --sweep, comma-separated (default: 1,5,10 for tau-s; 0.01,0.1,1 for lambda;
    /// the preset's models for model). With --resume, finished runs are read back, not
    /// trained or tested again.
    #[arg(long, value_delimiter = ',')]
    pub sweep_values: Vec<String>,
    /// Print progress every this many batches.
    #[arg(long, default_value_t = 10)]
    pub progress_every: usize,
}

/// What the cpu-deep presets' `--sweep model` compares: Table 2's six normalizations and
/// ResNet-32 pre/post (Table 3's blocks at depth 32: 15 blocks, widths 8 and 16).
pub const DEEP_MODELS: &[&str] = &[
    "none",
    "psp-bn",
    "psp-ln",
    "bn",
    "bntt",
    "tdbn",
    "resnet32-pre",
    "resnet32-post",
];

/// Preset values of one data set.
pub struct Defaults {
    /// The network for a normalization (its markers follow the normalization).
    pub arch: fn(Normalization) -> String,
    pub steps: usize,
    pub batch: usize,
    pub epochs: usize,
    pub samples_per_epoch: usize,
    pub valid_samples: usize,
    /// Test samples (0: the whole test split).
    pub test_samples: usize,
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
            .with_weight_scale(self.weight_scale.unwrap_or(d.weight_scale))
            .with_synapse_kernel(match self.synapse {
                SynapseArg::Auto => SynapseKernel::Auto,
                SynapseArg::Dense => SynapseKernel::Dense,
                SynapseArg::Events => SynapseKernel::Events,
            })
            .with_membrane(
                MembraneNormOptions::new()
                    .with_fair_start(self.fair_start)
                    .with_bntt_shift(self.bntt_shift)
                    .with_tdbn_scale(match self.tdbn_scale {
                        TdBnScaleArg::Paper => TdBnScale::Paper,
                        TdBnScaleArg::Folded => TdBnScale::Folded,
                    })
                    .with_running_variance(match self.running_variance {
                        RunningVarianceArg::Unbiased => RunningVariance::Unbiased,
                        RunningVarianceArg::Biased => RunningVariance::Biased,
                    }),
            );
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

    /// The test split's samples to test on, out of `len`: `--test-samples`, else the preset's,
    /// as a fixed seeded subset (the same for every run and seed); all of them for 0.
    pub fn test_indices(&self, d: &Defaults, len: usize) -> Vec<usize> {
        match self.test_samples.unwrap_or(d.test_samples) {
            0 => (0..len).collect(),
            n => train_validation_split(len, n.min(len), 0).1,
        }
    }

    /// The devices of `--devices`, else the one of `--device`.
    pub fn devices(&self) -> Vec<Device> {
        match self.devices.is_empty() {
            true => vec![self.device.device()],
            false => self.devices.iter().map(|d| d.device()).collect(),
        }
    }

    /// Runs the experiment (or the sweep) and prints the result.
    pub fn run(
        &self,
        name: &str,
        (config, defaults): (ExperimentConfig, Defaults),
        train_data: Arc<dyn SpikeData>,
        valid: Arc<dyn SpikeData>,
        test: Arc<dyn SpikeData>,
    ) -> Result<(), TrainError> {
        let devices = self.devices();
        let base = self
            .run_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(name));
        let Some(sweep) = self.sweep else {
            let report = self.train_one(&config, train_data, valid, test, &devices, base)?;
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
        // Numeric sweeps run once per normalization of --sweep-norms (default: the one
        // configured), each with the preset's network for it.
        let norms: Vec<Option<Normalization>> = match (sweep, self.sweep_norms.is_empty()) {
            (_, true) => vec![None],
            (SweepArg::Model, false) => {
                eprintln!("error: --sweep-norms goes with --sweep tau-s or lambda");
                std::process::exit(2)
            }
            (_, false) => self.sweep_norms.iter().copied().map(Some).collect(),
        };
        let mut csv =
            format!("{param},arch,norm,best_valid_accuracy,best_epoch,test_accuracy,seconds\n");
        let (mut numeric, mut curves, mut rates) = (Vec::new(), Vec::new(), Vec::new());
        for norm in norms {
            let mut points = Vec::new();
            for value in &values {
                let number = || {
                    value.parse::<f64>().unwrap_or_else(|_| {
                        eprintln!("error: --sweep {param} takes numbers, got {value:?}");
                        std::process::exit(2)
                    })
                };
                // A normalization with the preset's network for it.
                let with_norm = |cfg: &mut ExperimentConfig, norm: Normalization| {
                    cfg.settings.norm = norm;
                    cfg.arch = self.architecture(&defaults, norm, None);
                };
                let mut cfg = config.clone();
                let mut dir = format!("{param}-{value}");
                if let Some(norm) = norm {
                    with_norm(&mut cfg, norm);
                    dir = format!("{norm}-{dir}");
                }
                match sweep {
                    SweepArg::TauS => cfg.settings.srm.tau_s = number(),
                    SweepArg::Lambda => cfg.settings.lambda = number(),
                    SweepArg::Model => match value.parse::<Normalization>() {
                        Ok(norm) => with_norm(&mut cfg, norm),
                        Err(_) => {
                            let arch = value.parse().unwrap_or_else(|e| {
                                eprintln!("error: --sweep model: {e}");
                                std::process::exit(2)
                            });
                            cfg.arch = self.architecture(&defaults, cfg.settings.norm, Some(arch));
                        }
                    },
                }
                let report = self.train_one(
                    &cfg,
                    train_data.clone(),
                    valid.clone(),
                    test.clone(),
                    &devices,
                    base.join(dir),
                )?;
                print_result(&cfg, &report);
                let test_acc = report.test.as_ref().map_or(f64::NAN, |t| t.accuracy);
                let seconds: f64 = report.history.iter().map(|r| r.seconds).sum();
                csv.push_str(&format!(
                    "{value},{},{},{:.4},{},{test_acc:.4},{seconds:.0}\n",
                    cfg.arch, cfg.settings.norm, report.best_valid_accuracy, report.best_epoch
                ));
                points.push((value.parse::<f64>().unwrap_or(f64::NAN), test_acc));
                let label = match norm {
                    Some(norm) => format!("{norm} {value}"),
                    None => value.clone(),
                };
                curves.push(Series {
                    name: label.clone(),
                    points: report
                        .history
                        .iter()
                        .map(|r| (r.epoch as f64, r.valid.accuracy))
                        .collect(),
                });
                if let Some(last) = report.history.last() {
                    let names: Vec<String> =
                        last.train.rates.iter().map(|(n, _)| n.clone()).collect();
                    rates.push((last.rate_series(&label), names));
                }
            }
            numeric.push(Series {
                name: norm.unwrap_or(config.settings.norm).to_string(),
                points,
            });
        }
        let write = |file: &str, text: &str| {
            let path = base.join(file);
            std::fs::create_dir_all(&base)
                .and_then(|()| std::fs::write(&path, text))
                .map_err(|e| TrainError::Files {
                    path,
                    source: e.into(),
                })
        };
        let chart = |file: &str, title: &str, x: &str, y: &str, series: &[Series], axis| {
            write_chart(&base.join(file), title, x, y, series, axis)
        };
        write("sweep.csv", &csv)?;
        match sweep {
            // A categorical sweep: validation accuracy per epoch, one curve per model.
            SweepArg::Model => chart(
                "sweep.svg",
                "Validation accuracy per epoch",
                "epoch",
                "validation accuracy",
                &curves,
                XAxis::Epochs,
            )?,
            // λ spans decades (Fig. 9); τs is linear (Fig. 8).
            _ => chart(
                "sweep.svg",
                &format!("Test accuracy vs {param}"),
                param,
                "test accuracy",
                &numeric,
                if matches!(sweep, SweepArg::Lambda) {
                    XAxis::Log10
                } else {
                    XAxis::Numeric
                },
            )?,
        }
        // Firing rate per layer after the last epoch, the runs side by side (Figs. 6-7): on
        // the layers of the deepest run, shallower runs over their first layers.
        let names = rates
            .iter()
            .map(|(_, names)| names.clone())
            .max_by_key(Vec::len)
            .unwrap_or_default();
        let rates: Vec<Series> = rates.into_iter().map(|(series, _)| series).collect();
        chart(
            "sweep-rates.svg",
            "Firing rate per layer after the last epoch",
            "layer",
            "spikes / neuron / step",
            &rates,
            XAxis::Categories(&names),
        )?;
        println!("sweep written to {}", base.join("sweep.csv").display());
        Ok(())
    }

    fn train_one(
        &self,
        cfg: &ExperimentConfig,
        train_data: Arc<dyn SpikeData>,
        valid: Arc<dyn SpikeData>,
        test: Arc<dyn SpikeData>,
        devices: &[Device],
        dir: PathBuf,
    ) -> Result<RunReport, TrainError> {
        if self.resume
            && let Some(report) = finished_run(&dir, cfg)
        {
            println!("{}: finished, report from result.json", dir.display());
            return Ok(report);
        }
        let s = &cfg.settings;
        // `samples_per_epoch` 0 means every training sample, and a larger value is capped.
        let per_epoch = match cfg.samples_per_epoch {
            0 => format!("{} samples (all)", train_data.len()),
            n if n >= train_data.len() => format!("{} samples (all)", train_data.len()),
            n => format!("{n} of {} samples", train_data.len()),
        };
        println!(
            "{} | norm {} | T {} | batch {} | {} epochs × {per_epoch} | {:?} lr {} wd {} | τs {} τr {} λ {} weight scale {} | run dir {}",
            cfg.arch,
            s.norm,
            s.num_steps,
            cfg.batch_size,
            cfg.epochs,
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
            devices: devices.to_vec(),
            strategy: self.strategy,
        };
        train(cfg, train_data, valid, Some(test), &opts)
    }
}

/// The report of a run in `dir` that finished with this configuration (its `config.json` is
/// `cfg` and `result.json` has every epoch and the test), if there is one: `--resume` on a
/// sweep reuses it instead of training or testing again.
fn finished_run(dir: &std::path::Path, cfg: &ExperimentConfig) -> Option<RunReport> {
    let read = |file: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(dir.join(file)).ok()?).ok()
    };
    let same_config = read("config.json")? == serde_json::to_value(cfg).ok()?;
    let report: RunReport = serde_json::from_value(read("result.json")?).ok()?;
    (same_config && report.history.len() == cfg.epochs && report.test.is_some()).then_some(report)
}

fn print_result(cfg: &ExperimentConfig, report: &RunReport) {
    let test = report.test.as_ref().map_or(f64::NAN, |t| t.accuracy);
    let seconds: f64 = report.history.iter().map(|r| r.seconds).sum();
    println!(
        "RESULT {} norm={} T={} | best valid {:.2}% (epoch {}) | test {:.2}% | {:.0} s",
        cfg.arch,
        cfg.settings.norm,
        cfg.steps(),
        100.0 * report.best_valid_accuracy,
        report.best_epoch,
        100.0 * test,
        seconds
    );
}
