//! Allocator tuning for training on the CPU.
//!
//! Every Burn CPU op allocates its output. Activations of an SNN are large (a
//! `[10, 100, 16, 34, 34]` f32 tensor is 74 MB), and glibc serves every block above 32 MiB with
//! a fresh `mmap` and returns it with `munmap` when freed, so the next op of the same size
//! faults in and zeroes new pages. On a 2-core machine that made 60% of a training step of the
//! paper's N-MNIST network kernel time (20.7 s per step; 7.6 s with the heap kept, see
//! `benches/train_step.rs`).

/// Makes glibc keep freed memory in the heap for reuse instead of returning large blocks to
/// the operating system (`mallopt(M_MMAP_MAX, 0)` and `mallopt(M_TRIM_THRESHOLD, -1)`, no trimming). Call it once
/// at the start of a training program. Peak memory is unchanged; memory is not returned to the
/// system until exit.
///
/// Returns whether the setting was applied: `true` on Linux with glibc, `false` elsewhere (a
/// no-op).
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, -1) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
