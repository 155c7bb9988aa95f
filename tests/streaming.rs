//! Streaming inference against the whole-sequence forward: exact, spike for spike, for every
//! causal normalization, on synthetic inputs and on the N-MNIST recordings of
//! `$BURN_SNN_DATA/nmnist-small` (the latter `#[ignore]`d without data; `.ci/run` runs them).

mod common;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use burn_snn::SrmConfig;
use burn_snn::block::BlockKind;
use burn_snn::data::{Binning, NmnistBatcher, NmnistDataset, Split};
use burn_snn::functional::{CausalLayerNorm, StreamState};
use burn_snn::model::{
    NetworkSpec, SpikingNetworkConfig, SpikingResNetConfig, StreamError, Streaming,
};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::Normalization;
use burn_snn::synapse::SynapseKernel;
use common::{device_f64, serial, values};
use std::path::PathBuf;

/// The normalizations whose statistics are causal.
const CAUSAL: [Normalization; 5] = [
    Normalization::None,
    Normalization::PspBatch,
    Normalization::Bn,
    Normalization::Bntt,
    Normalization::TdBn,
];

/// The settings of a test network: BN and BNTT scale the potential to unit variance, so
/// their neurons get a threshold of 1 instead of 10 to fire at all.
fn settings(norm: Normalization, steps: usize, weight_scale: f64) -> LayerSettings {
    let settings = LayerSettings::new()
        .with_norm(norm)
        .with_num_steps(steps)
        .with_weight_scale(weight_scale);
    match norm {
        Normalization::Bn | Normalization::Bntt => {
            settings.with_srm(SrmConfig::new().with_theta(1.0))
        }
        _ => settings,
    }
}

/// The model after one training-mode forward pass on `warmup` (so that the running
/// statistics differ from their initial values, per time step for BNTT), for inference.
fn warmed<M: Module>(model: M, warmup: Tensor<5>, forward: impl Fn(&M, Tensor<5>)) -> M {
    forward(&model, warmup);
    model.valid()
}

/// Streams `input` chunk by chunk (`lengths`) from rest; returns the concatenated output.
fn streamed<M: Streaming>(model: &M, input: &Tensor<5>, lengths: &[usize]) -> Tensor<3> {
    let [b, t, ..] = input.dims();
    assert_eq!(lengths.iter().sum::<usize>(), t);
    let mut state = model.stream(b, &input.device());
    let mut start = 0;
    let mut out = Vec::new();
    for &k in lengths {
        let chunk = input.clone().slice([0..b, start..start + k]);
        let y = if k == 1 {
            let [_, _, c, h, w] = chunk.dims();
            model
                .step(&mut state, chunk.reshape([b, c, h, w]))
                .unwrap()
                .unsqueeze_dim(1)
        } else {
            model.forward_chunk(&mut state, chunk).unwrap()
        };
        out.push(y);
        start += k;
    }
    assert_eq!(state.steps(), t);
    Tensor::cat(out, 1)
}

/// Streams and compares with the whole-sequence forward; returns the output's spike count.
fn assert_streams_exactly<M: Streaming>(
    model: &M,
    forward: impl Fn(&M, Tensor<5>) -> Tensor<3>,
    input: &Tensor<5>,
    what: &str,
) -> usize {
    let t = input.dims()[1];
    let whole = values(forward(model, input.clone()));
    for lengths in [vec![1; t], vec![7, 1, t - 8]] {
        let got = values(streamed(model, input, &lengths));
        assert_eq!(got, whole, "{what}, chunks {lengths:?}");
    }
    whole.iter().filter(|&&s| s == 1.0).count()
}

#[test]
fn plain_networks_stream_exactly_for_every_causal_normalization() {
    let _serial = serial();
    let device = device_f64();
    device.seed(7);
    let (t, b) = (24, 3);
    let input = Tensor::<5>::random([b, t, 2, 12, 12], Distribution::Bernoulli(0.15), &device);
    for norm in CAUSAL {
        for kernel in [SynapseKernel::Auto, SynapseKernel::Dense] {
            let spec = NetworkSpec::parse("12x12x2-n6c3-p2-n8c3-n16-10")
                .unwrap()
                .with_norm_markers(norm);
            let settings = settings(norm, t, 60.0)
                .with_synapse_kernel(kernel)
                .with_dense_above_density(1.0);
            let model = warmed(
                SpikingNetworkConfig::new(spec)
                    .with_settings(settings)
                    .init(&device.clone().autodiff()),
                input.clone(),
                |m, x| {
                    m.forward(x.to_device(&device.clone().autodiff()));
                },
            );
            let what = format!("{norm} {kernel:?}");
            let spikes = assert_streams_exactly(&model, |m, x| m.forward(x), &input, &what);
            eprintln!("{what}: {spikes} output spikes");
            assert!(spikes > 0, "{what}: a silent output tests nothing");
        }
    }
}

#[test]
fn residual_networks_stream_exactly_for_every_causal_normalization() {
    let _serial = serial();
    let device = device_f64();
    device.seed(8);
    let (t, b) = (20, 2);
    let input = Tensor::<5>::random([b, t, 2, 8, 8], Distribution::Bernoulli(0.2), &device);
    for kind in [BlockKind::Pre, BlockKind::Post] {
        for norm in CAUSAL {
            let settings = settings(norm, t, 50.0);
            let model = warmed(
                SpikingResNetConfig::new(6, kind)
                    .with_input([2, 8, 8])
                    .with_widths(vec![4, 8])
                    .with_settings(settings)
                    .init(&device.clone().autodiff()),
                input.clone(),
                |m, x| {
                    m.forward(x.to_device(&device.clone().autodiff()));
                },
            );
            let what = format!("{kind:?} {norm}");
            let spikes = assert_streams_exactly(&model, |m, x| m.forward(x), &input, &what);
            eprintln!("{what}: {spikes} output spikes");
            assert!(spikes > 0, "{what}: a silent output tests nothing");
        }
    }
}

/// PSP-LN calibrated on the very sample it then streams has that sample's whole-sequence
/// statistics, so it streams exactly; the running form depends only on what it has seen, so
/// any chunking gives the same output.
#[test]
fn psp_ln_causal_forms() {
    let _serial = serial();
    let device = device_f64();
    device.seed(9);
    let t = 24;
    let input = Tensor::<5>::random([1, t, 2, 12, 12], Distribution::Bernoulli(0.15), &device);
    let spec = NetworkSpec::parse("12x12x2-n6c3-p2-n8c3-n16-10")
        .unwrap()
        .with_norm_markers(Normalization::PspLayer);
    let model = SpikingNetworkConfig::new(spec)
        .with_settings(
            LayerSettings::new()
                .with_weight_scale(40.0)
                .with_dense_above_density(1.0),
        )
        .init(&device);
    let calibrated = model.calibrate_layer_norm([input.clone()]);
    let CausalLayerNorm::Calibrated(moments) = &calibrated else {
        panic!("a calibration")
    };
    assert_eq!(moments.len(), 3, "one moment per PSP-LN layer");
    let whole = values(model.forward(input.clone()));
    assert!(whole.contains(&1.0));
    let stream = |form: &CausalLayerNorm, lengths: &[usize]| {
        let mut state = StreamState::new(1, &device).with_layer_norm(form.clone());
        let mut out = Vec::new();
        let mut start = 0;
        for &k in lengths {
            let chunk = input.clone().slice([0..1, start..start + k]);
            out.push(model.forward_chunk(&mut state, chunk).unwrap());
            start += k;
        }
        values(Tensor::cat(out, 1))
    };
    for lengths in [vec![1; t], vec![5, 19]] {
        assert_eq!(
            stream(&calibrated, &lengths),
            whole,
            "calibrated {lengths:?}"
        );
    }
    // The trained form is the constant running average every PSP-LN layer keeps.
    let trained: Vec<f64> = model
        .layers
        .iter()
        .filter_map(|l| l.func.norm.as_ref())
        .map(|n| values(n.running_moment.value()).iter().sum::<f64>() / n.num_features as f64)
        .collect();
    assert_eq!(
        stream(&CausalLayerNorm::Trained, &[t]),
        stream(&CausalLayerNorm::Calibrated(trained), &vec![1; t])
    );
    let running = stream(&CausalLayerNorm::Running, &[t]);
    assert_eq!(stream(&CausalLayerNorm::Running, &vec![1; t]), running);
    assert_eq!(stream(&CausalLayerNorm::Running, &[3, 20, 1]), running);
}

#[test]
fn bntt_refuses_steps_past_its_statistics_and_the_stream_stays_usable() {
    let _serial = serial();
    let device = device_f64();
    let t = 6;
    let spec = NetworkSpec::parse("8x8x2-n4c3-10")
        .unwrap()
        .with_norm_markers(Normalization::Bntt);
    let model = SpikingNetworkConfig::new(spec)
        .with_settings(
            LayerSettings::new()
                .with_norm(Normalization::Bntt)
                .with_num_steps(t),
        )
        .init(&device);
    let input = Tensor::<5>::ones([1, 4, 2, 8, 8], &device);
    let mut state = model.stream(1, &device);
    model.forward_chunk(&mut state, input.clone()).unwrap();
    let err = model.forward_chunk(&mut state, input.clone()).unwrap_err();
    assert_eq!(
        err,
        StreamError::PastLimit {
            limit: 6,
            seen: 4,
            asked: 4
        }
    );
    assert!(
        err.to_string().contains("statistics for 6 time steps"),
        "{err}"
    );
    assert_eq!(state.steps(), 4);
    let rest = input.slice([0..1, 0..2]);
    assert_eq!(
        model.forward_chunk(&mut state, rest).unwrap().dims(),
        [1, 2, 10]
    );
    state.reset();
    assert_eq!(state.steps(), 0);
    model
        .forward_chunk(&mut state, Tensor::ones([1, 6, 2, 8, 8], &device))
        .unwrap();
}

#[test]
fn a_stream_holds_constant_memory() {
    let _serial = serial();
    let device = device_f64();
    let model = SpikingNetworkConfig::new("12x12x2-n6c3-p2-n8c3-10".parse().unwrap()).init(&device);
    let mut state = model.stream(2, &device);
    let frame = || Tensor::<4>::random([2, 2, 12, 12], Distribution::Bernoulli(0.1), &device);
    model.step(&mut state, frame()).unwrap();
    let after_one = state.memory_bytes();
    assert!(after_one > 0);
    for _ in 0..50 {
        model.step(&mut state, frame()).unwrap();
    }
    assert_eq!(state.memory_bytes(), after_one);
}

#[test]
#[should_panic(
    expected = "Streaming: expected input [2, k >= 1, 2, 12, 12] for this network and stream, got [1, 1, 2, 12, 12]"
)]
fn a_chunk_of_another_batch_size_panics_naming_both() {
    let _serial = serial();
    let device = device_f64();
    let model = SpikingNetworkConfig::new("12x12x2-n6c3-10".parse().unwrap()).init(&device);
    let mut state = model.stream(2, &device);
    let _ = model.step(&mut state, Tensor::zeros([1, 2, 12, 12], &device));
}

/// `$BURN_SNN_DATA/nmnist-small`.
fn nmnist_dir() -> PathBuf {
    let dir = std::env::var_os("BURN_SNN_DATA")
        .map(|dir| PathBuf::from(dir).join("nmnist-small"))
        .expect("BURN_SNN_DATA is not set: point it at the folder holding nmnist-small/");
    assert!(dir.is_dir(), "{} is not a directory", dir.display());
    dir
}

/// The 100 test recordings, binned to `steps` steps of 1 ms.
fn nmnist_test(steps: usize, device: &Device) -> Tensor<5> {
    let ds = NmnistDataset::from_dir(nmnist_dir(), Split::Test).expect("official layout");
    let items: Vec<_> = (0..ds.len()).map(|i| ds.get(i).unwrap()).collect();
    assert_eq!(items.len(), 100);
    let batcher = NmnistBatcher {
        binning: Binning { steps, dt_us: 1000 },
    };
    batcher.batch(items, device).spikes
}

/// The cpu-small network on the 100 N-MNIST test recordings (300 steps of 1 ms, the paper's
/// binning), streamed one step at a time, in f64: spike for spike the whole-sequence output,
/// for every causal normalization.
#[test]
#[ignore = "needs BURN_SNN_DATA"]
fn nmnist_recordings_stream_exactly_in_f64() {
    let _serial = serial();
    let device = device_f64();
    device.seed(2022);
    let t = 300;
    let input = nmnist_test(t, &device);
    for norm in CAUSAL {
        let spec = NetworkSpec::parse("34x34x2-n8c3-p2-n16c3-p2-n32c3-10")
            .unwrap()
            .with_norm_markers(norm);
        let settings = settings(norm, t, 40.0);
        let model = warmed(
            SpikingNetworkConfig::new(spec)
                .with_settings(settings)
                .init(&device.clone().autodiff()),
            input.clone().narrow(0, 0, 10),
            |m, x| {
                m.forward(x.to_device(&device.clone().autodiff()));
            },
        );
        let whole = values(model.forward(input.clone()));
        let got = values(streamed(&model, &input, &vec![1; t]));
        let spikes = whole.iter().filter(|&&s| s == 1.0).count();
        let mismatches = got.iter().zip(&whole).filter(|(g, w)| g != w).count();
        eprintln!("{norm}: {spikes} output spikes, {mismatches} mismatches");
        assert!(spikes > 0, "{norm}: a silent output tests nothing");
        assert_eq!(mismatches, 0, "{norm}");
    }
}

/// Inference fuses an event synapse's PSP filter with the next spike generation; training
/// keeps them apart (the potential's backward). Both give the same output spikes.
#[test]
fn the_fused_inference_forward_equals_the_training_forward() {
    let _serial = serial();
    let device = device_f64();
    device.seed(10);
    let input = Tensor::<5>::random([2, 24, 2, 12, 12], Distribution::Bernoulli(0.15), &device);
    for norm in [Normalization::None, Normalization::PspLayer] {
        let spec = NetworkSpec::parse("12x12x2-n6c3-p2-n8c3-n16-10")
            .unwrap()
            .with_norm_markers(norm);
        let model = SpikingNetworkConfig::new(spec)
            .with_settings(settings(norm, 24, 60.0).with_dense_above_density(1.0))
            .init(&device.clone().autodiff());
        let training = values(model.forward(input.clone().to_device(&device.clone().autodiff())));
        let inference = values(model.valid().forward(input.clone()));
        assert!(
            training.contains(&1.0),
            "{norm}: a silent output tests nothing"
        );
        assert_eq!(inference, training, "{norm}");
    }
}
