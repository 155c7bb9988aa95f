//! `device::flush_denormals`: subnormal results become zero on the calling thread and on
//! rayon's threads (its own process: the setting is per thread and would leak into other
//! tests).
#![cfg(target_arch = "x86_64")]

use std::hint::black_box;

/// The bits of 1e-30 · 1e-10 = 1e-40, below f32's normal range (1.2e-38): a subnormal unless
/// flushed. Bits, because a comparison on a thread with denormals-are-zero sees any subnormal
/// as 0.
fn product() -> u32 {
    (black_box(1e-30f32) * black_box(1e-10f32)).to_bits()
}

#[test]
fn subnormal_results_are_flushed_on_every_thread() {
    assert_ne!(product(), 0, "subnormal before the call");
    // Start rayon's pool first: its threads exist before the call and must be reached.
    let before = rayon::broadcast(|_| product());
    assert!(before.iter().all(|&p| p != 0), "{before:?}");
    assert!(burn_snn::device::flush_denormals());
    assert_eq!(product(), 0, "calling thread");
    let on_pool = rayon::broadcast(|_| product());
    assert!(
        on_pool.iter().all(|&p| p == 0),
        "rayon threads: {on_pool:?}"
    );
    // A thread spawned afterwards inherits the setting.
    let spawned = std::thread::spawn(product).join().unwrap();
    assert_eq!(spawned, 0, "spawned thread");
    // Normal values are untouched.
    assert_eq!(
        (black_box(1e-20f32) * black_box(1e-10f32)).to_bits(),
        1e-30f32.to_bits()
    );
}
