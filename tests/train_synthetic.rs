//! End-to-end learning: a small PSP-LN network trained with AdaBelief on a generated spike task.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_snn::device::cpu as device;
use burn_snn::model::{
    LayerSpec, NetworkSpec, SpikeCountLossConfig, SpikingNetwork, SpikingNetworkConfig, correct,
    spike_counts,
};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::Normalization;
use burn_snn::optim::AdaBeliefConfig;
use rand::{Rng, SeedableRng, rngs::StdRng};

const CLASSES: usize = 4;
const T: usize = 30;
const SIDE: usize = 6;

/// Class `c` makes the `c`-th quadrant of a 6×6 map fire with probability 0.25 per step;
/// every pixel also fires at 0.03 (noise).
fn batch(rng: &mut StdRng, size: usize, device: &Device) -> (Tensor<5>, Tensor<1, Int>) {
    let mut spikes = Vec::with_capacity(size * T * SIDE * SIDE);
    let mut labels = Vec::with_capacity(size);
    for _ in 0..size {
        let class = rng.random_range(0..CLASSES);
        labels.push(class as i64);
        for _ in 0..T {
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let quadrant = (y / 3) * 2 + x / 3;
                    let p = if quadrant == class { 0.25 } else { 0.03 };
                    spikes.push(if rng.random::<f64>() < p { 1.0f32 } else { 0.0 });
                }
            }
        }
    }
    (
        Tensor::from_data(TensorData::new(spikes, [size, T, 1, SIDE, SIDE]), device),
        Tensor::from_data(TensorData::new(labels, [size]), device),
    )
}

/// Trains `spec` with `norm` for `steps` AdaBelief steps; returns the test accuracy before and
/// after training.
fn train(spec: &str, norm: Normalization, steps: usize) -> (f64, f64) {
    // The backend's random generator is global: tests running in parallel would interleave
    // their draws. Serialize the runs so that the seeded initialization is reproducible.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let device = device().autodiff();
    device.seed(2022);
    let mut rng = StdRng::seed_from_u64(2022);
    let mut model = SpikingNetworkConfig::new(spec.parse().unwrap())
        .with_settings(LayerSettings::new().with_norm(norm))
        .init(&device);
    let evaluate = |model: &SpikingNetwork, rng: &mut StdRng| {
        let model = model.valid();
        let (input, labels) = batch(rng, 400, &device.clone().inner());
        correct(spike_counts(model.forward(input)), labels) as f64 / 400.0
    };
    let before = evaluate(&model, &mut rng);
    // Without rectification: its RAdam warm-up (the reference default) keeps the effective
    // step under 37% of lr for these 300 steps, and the deep net would still be silent.
    let mut optim = AdaBeliefConfig::new()
        .with_weight_decay(1e-4)
        .with_rectify(false)
        .init();
    let loss_fn = SpikeCountLossConfig::new(8.0, 1.0).init();
    for _ in 0..steps {
        let (input, labels) = batch(&mut rng, 8, &device);
        let loss = loss_fn.forward(model.forward(input), labels);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    (before, evaluate(&model, &mut rng))
}

#[test]
fn small_psp_ln_network_learns_a_spike_task() {
    let (before, accuracy) = train(
        &format!("{SIDE}x{SIDE}x1-n4c3-n{CLASSES}"),
        Normalization::PspLayer,
        300,
    );
    println!("accuracy: {before:.3} before training, {accuracy:.3} after 300 steps");
    assert!(
        before < 0.5,
        "the untrained network already solves the task ({before})"
    );
    assert!(accuracy > 0.9, "accuracy {accuracy}");
}

/// The paper's claim on a deep plain network (12 synapse layers), seeded: with PSP-LN it
/// learns the task, without normalization it does not (`cargo test --test train_synthetic --
/// --nocapture` prints both).
#[test]
fn deep_plain_network_learns_with_psp_ln_and_not_without() {
    let psp = format!("{SIDE}x{SIDE}x1-n8c3-{{n8c3}}*10-n{CLASSES}");
    // The same network without normalization, built from its layers.
    let spec = NetworkSpec::parse(&psp).unwrap();
    let layers = spec
        .layers()
        .iter()
        .map(|layer| match *layer {
            LayerSpec::Conv {
                channels,
                kernel,
                stride,
                ..
            } => LayerSpec::Conv {
                channels,
                kernel,
                stride,
                psp_norm: false,
                membrane_norm: false,
            },
            LayerSpec::Dense { units, .. } => LayerSpec::Dense {
                units,
                psp_norm: false,
                membrane_norm: false,
            },
            pool => pool,
        })
        .collect();
    let plain = NetworkSpec::new(spec.input(), layers).unwrap().to_string();
    let (_, with_norm) = train(&psp, Normalization::PspLayer, 300);
    let (_, without) = train(&plain, Normalization::None, 300);
    println!(
        "12-layer plain net after 300 steps: PSP-LN {with_norm:.3}, no normalization {without:.3}"
    );
    assert!(with_norm > 0.9, "PSP-LN accuracy {with_norm}");
    assert!(
        with_norm - without >= 0.3,
        "PSP-LN {with_norm} does not clearly beat no normalization {without}"
    );
}
