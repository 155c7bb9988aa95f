//! The GPU benches in one binary, for the bundle of `scripts/gpu-bundle.sh`: one binary shares
//! the code the three would each carry (about 90 MB apiece). `BURN_SNN_CHECK` picks the bench:
//! `ops` (`temporal_ops`), `step` (`train_step`) or `inference`; each reads its own variables
//! (`BURN_SNN_BENCH_DEVICE=wgpu` for the GPU).
//!
//! Run: `BURN_SNN_CHECK=step BURN_SNN_BENCH_DEVICE=wgpu cargo bench --features wgpu --bench gpu_check`

#[path = "inference.rs"]
mod inference;
#[path = "temporal_ops.rs"]
mod temporal_ops;
#[path = "train_step.rs"]
mod train_step;

fn main() {
    match std::env::var("BURN_SNN_CHECK").as_deref() {
        Ok("ops") => temporal_ops::main(),
        Ok("step") => train_step::main(),
        Ok("inference") => inference::main(),
        other => {
            eprintln!("gpu_check: set BURN_SNN_CHECK to ops, step or inference (got {other:?})");
            std::process::exit(2);
        }
    }
}
