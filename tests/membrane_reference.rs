//! The membrane baselines against their reference implementations, in float64: SpikingJelly
//! 2.0's `BatchNorm2d`, `BatchNormThroughTime2d` and `ThresholdDependentBatchNorm2d`, and tdBN
//! in its paper's form (`tests/fixtures/membrane_norm_reference.json`, written by
//! `scripts/membrane_norm_reference.py`). Each case checks the initial parameters, the output,
//! the input gradient and every learnable parameter's gradient of two training steps, the
//! running statistics they leave, and an inference pass.

mod common;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use burn_snn::norm::{
    MembraneNorm, MembraneNormConfig, MembraneNormKind, MembraneNormOptions, RunningVariance,
    TdBnScale,
};
use common::{device_f64, values};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Fixture {
    spikingjelly: String,
    shape_tnchw: [usize; 5],
    alpha_v_th: f64,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    initial: BTreeMap<String, Vec<f64>>,
    params: BTreeMap<String, Vec<f64>>,
    steps: Vec<Step>,
    running_mean: Vec<f64>,
    running_var: Vec<f64>,
    eval: Eval,
}

#[derive(Deserialize)]
struct Step {
    input: Vec<f64>,
    upstream: Vec<f64>,
    output: Vec<f64>,
    input_grad: Vec<f64>,
    param_grads: BTreeMap<String, Vec<f64>>,
}

#[derive(Deserialize)]
struct Eval {
    input: Vec<f64>,
    output: Vec<f64>,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/membrane_norm_reference.json")).expect("fixture")
}

#[track_caller]
fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-10 * w.abs().max(1.0),
            "{what}: element {i}: got {g}, reference {w}"
        );
    }
}

/// A `[T, N, C, H, W]` reference tensor in this crate's `[N, T, C, H, W]` layout.
fn batch_first(v: &[f64], shape: [usize; 5], device: &Device) -> Tensor<5> {
    Tensor::<5>::from_data(TensorData::new(v.to_vec(), shape), device).swap_dims(0, 1)
}

/// The configuration each reference case stands for, with the crate's defaults except where
/// the case names another form.
fn config(name: &str, fixture: &Fixture) -> MembraneNormConfig {
    let [t, _, c, _, _] = fixture.shape_tnchw;
    let (kind, options) = match name {
        "bn" => (MembraneNormKind::Bn, MembraneNormOptions::new()),
        "bntt" => (
            MembraneNormKind::Bntt { num_steps: t },
            MembraneNormOptions::new(),
        ),
        "tdbn-paper" => (MembraneNormKind::TdBn, MembraneNormOptions::new()),
        "tdbn-folded" => (
            MembraneNormKind::TdBn,
            MembraneNormOptions::new().with_tdbn_scale(TdBnScale::Folded),
        ),
        other => panic!("unknown case {other}"),
    };
    MembraneNormConfig::new(kind, c)
        .with_threshold_scale(fixture.alpha_v_th)
        .with_options(options)
}

fn learned(norm: &MembraneNorm) -> BTreeMap<String, Vec<f64>> {
    let mut out = BTreeMap::from([("scale".to_string(), values(norm.scale.val()))]);
    if let Some(shift) = &norm.shift {
        out.insert("shift".to_string(), values(shift.val()));
    }
    out
}

#[test]
fn baselines_match_their_reference_implementations() {
    let fixture = fixture();
    assert_eq!(fixture.spikingjelly, "2.0.0");
    assert_eq!(fixture.cases.len(), 4);
    let device = device_f64().autodiff();
    let shape = fixture.shape_tnchw;
    for case in &fixture.cases {
        let what = case.name.as_str();
        let mut norm = config(what, &fixture).init(&device);
        // Defaults: the reference's initial parameters, and only the parameters it learns
        // (BNTT: no shift).
        assert_eq!(learned(&norm), case.initial, "{what}: initial parameters");
        let dims = |v: &Vec<f64>| [v.len()];
        norm.scale = Param::from_tensor(Tensor::from_data(
            TensorData::new(case.params["scale"].clone(), dims(&case.params["scale"])),
            &device,
        ));
        if let Some(shift) = case.params.get("shift") {
            norm.shift = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(shift.clone(), dims(shift)),
                &device,
            )));
        }
        for (i, step) in case.steps.iter().enumerate() {
            let what = format!("{what}, training step {i}");
            let x = batch_first(&step.input, shape, &device).require_grad();
            let g = batch_first(&step.upstream, shape, &device);
            let y = norm.forward(x.clone());
            let grads = (y.clone() * g).sum().backward();
            assert_close(
                &values(y.swap_dims(0, 1)),
                &step.output,
                &format!("{what}: output"),
            );
            let dx = x.grad(&grads).expect("input gradient").swap_dims(0, 1);
            assert_close(
                &values(dx),
                &step.input_grad,
                &format!("{what}: input gradient"),
            );
            let mut got = BTreeMap::from([(
                "scale".to_string(),
                values(norm.scale.grad(&grads).expect("scale gradient")),
            )]);
            if let Some(shift) = &norm.shift {
                got.insert(
                    "shift".to_string(),
                    values(shift.grad(&grads).expect("shift gradient")),
                );
            }
            assert_eq!(
                got.len(),
                step.param_grads.len(),
                "{what}: learned parameters"
            );
            for (name, want) in &step.param_grads {
                assert_close(&got[name], want, &format!("{what}: gradient of {name}"));
            }
        }
        // PyTorch's running statistics: momentum 0.1, the unbiased variance.
        assert_close(
            &values(norm.running_mean.value_sync()),
            &case.running_mean,
            &format!("{what}: running mean"),
        );
        assert_close(
            &values(norm.running_var.value_sync()),
            &case.running_var,
            &format!("{what}: running variance"),
        );
        let norm = norm.valid();
        let x = batch_first(&case.eval.input, shape, &device_f64());
        let y = norm.forward(x).swap_dims(0, 1);
        assert_close(&values(y), &case.eval.output, &format!("{what}: inference"));
    }
}

/// The documented alternatives: Burn's biased running variance, BNTT with a shift, and the
/// fair start (BN and BNTT scaled to θ at initialization; tdBN unchanged).
#[test]
fn alternative_forms_change_what_they_say() {
    let fixture = fixture();
    let device = device_f64().autodiff();
    let bn = &fixture.cases[0];
    assert_eq!(bn.name, "bn");
    let shape = fixture.shape_tnchw;
    let per_channel = (shape[0] * shape[1] * shape[3] * shape[4]) as f64;
    let norm = config("bn", &fixture)
        .with_options(MembraneNormOptions::new().with_running_variance(RunningVariance::Biased))
        .init(&device);
    // Two batches from the initial 1: running = 0.81 + 0.1·0.9·σ₁² + 0.1·σ₂², which the
    // unbiased reference holds with each σ² scaled by n/(n−1).
    let mut biased = vec![0.81; 2];
    let mut unbiased = vec![0.81; 2];
    for (i, step) in bn.steps.iter().enumerate() {
        let x = batch_first(&step.input, shape, &device);
        norm.forward(x.clone());
        let weight = if i == 0 { 0.09 } else { 0.1 };
        let var = values(x.swap_dims(0, 2).reshape([2, -1]).var_bias(1));
        for c in 0..2 {
            biased[c] += weight * var[c];
            unbiased[c] += weight * var[c] * per_channel / (per_channel - 1.0);
        }
    }
    assert_close(
        &values(norm.running_var.value_sync()),
        &biased,
        "biased running variance",
    );
    assert_close(
        &bn.running_var,
        &unbiased,
        "the reference keeps the unbiased variance",
    );

    let t = shape[0];
    let shifted = config("bntt", &fixture)
        .with_options(MembraneNormOptions::new().with_bntt_shift(true))
        .init(&device);
    assert_eq!(shifted.shift.as_ref().map(|s| s.dims()), Some([2 * t]));

    let fair = MembraneNormOptions::new().with_fair_start(true);
    for name in ["bn", "bntt"] {
        let norm = config(name, &fixture)
            .with_options(fair.clone())
            .init(&device);
        assert!(
            values(norm.scale.val())
                .iter()
                .all(|&s| s == fixture.alpha_v_th),
            "{name}: the fair start scales by θ"
        );
    }
    let tdbn = config("tdbn-paper", &fixture)
        .with_options(fair)
        .init(&device);
    assert_eq!(
        values(tdbn.scale.val()),
        vec![1.0; 2],
        "tdBN keeps its λ = 1"
    );
    assert_eq!(tdbn.gain, fixture.alpha_v_th);
}
