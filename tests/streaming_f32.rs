//! Streaming in f32 on the N-MNIST recordings of `$BURN_SNN_DATA/nmnist-small`: the streamed
//! output spikes against the whole-sequence forward's, mismatches counted per million output
//! spikes (f32 rounding may differ where a step's synapse takes another path than the whole
//! sequence's). `#[ignore]`d without data; `.ci/run` runs it. The f64 twin, `streaming.rs`,
//! requires exact equality.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Device, Tensor};
use burn_snn::SrmConfig;
use burn_snn::data::{Binning, NmnistBatcher, NmnistDataset, Split};
use burn_snn::model::{NetworkSpec, SpikingNetworkConfig, Streaming};
use burn_snn::neuron::LayerSettings;
use burn_snn::norm::Normalization;
use std::path::PathBuf;

fn nmnist_test(steps: usize, device: &Device) -> Tensor<5> {
    let dir = std::env::var_os("BURN_SNN_DATA")
        .map(|dir| PathBuf::from(dir).join("nmnist-small"))
        .expect("BURN_SNN_DATA is not set: point it at the folder holding nmnist-small/");
    let ds = NmnistDataset::from_dir(dir, Split::Test).expect("official layout");
    let items: Vec<_> = (0..ds.len()).map(|i| ds.get(i).unwrap()).collect();
    NmnistBatcher {
        binning: Binning { steps, dt_us: 1000 },
    }
    .batch(items, device)
    .spikes
}

fn values(t: Tensor<3>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().unwrap()
}

#[test]
#[ignore = "needs BURN_SNN_DATA"]
fn nmnist_recordings_stream_in_f32_to_rounding() {
    let device = burn_snn::device::cpu();
    device.seed(2022);
    let t = 300;
    let input = nmnist_test(t, &device);
    for norm in [
        Normalization::None,
        Normalization::PspBatch,
        Normalization::Bn,
        Normalization::Bntt,
        Normalization::TdBn,
    ] {
        let spec = NetworkSpec::parse("34x34x2-n8c3-p2-n16c3-p2-n32c3-10")
            .unwrap()
            .with_norm_markers(norm);
        let mut settings = LayerSettings::new()
            .with_norm(norm)
            .with_num_steps(t)
            .with_weight_scale(40.0);
        if matches!(norm, Normalization::Bn | Normalization::Bntt) {
            settings = settings.with_srm(SrmConfig::new().with_theta(1.0));
        }
        let model = SpikingNetworkConfig::new(spec)
            .with_settings(settings)
            .init(&device);
        let whole = values(model.forward(input.clone()));
        let mut state = model.stream(100, &device);
        let steps: Vec<Tensor<3>> = (0..t)
            .map(|i| {
                let frame = input.clone().slice([0..100, i..i + 1]).squeeze_dim::<4>(1);
                model.step(&mut state, frame).unwrap().unsqueeze_dim(1)
            })
            .collect();
        let streamed = values(Tensor::cat(steps, 1));
        let spikes = whole.iter().filter(|&&s| s == 1.0).count();
        let mismatches = streamed.iter().zip(&whole).filter(|(a, b)| a != b).count();
        let per_million = 1e6 * mismatches as f64 / spikes.max(1) as f64;
        eprintln!(
            "{norm}: {spikes} output spikes, {mismatches} mismatches ({per_million:.0} per million)"
        );
        assert!(spikes > 0, "{norm}: a silent output tests nothing");
        assert!(
            per_million <= 1000.0,
            "{norm}: {per_million:.0} mismatches per million spikes"
        );
    }
}
