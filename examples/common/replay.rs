//! Replaying an N-MNIST recording as a live event stream through a trained model.

use burn::tensor::Device;
use burn_snn::data::{Event, EventBinner, EventError, NMNIST_SIDE};
use burn_snn::functional::CausalLayerNorm;
use burn_snn::model::{SnnModel, Streaming};
use std::time::{Duration, Instant};

/// What a stream gave for one recording.
#[allow(dead_code)] // `running` is read by the stream example, not by classify.
pub struct Replay {
    /// The class with the most output spikes after each step (ties to the lower class, as
    /// `predict` does), `None` while the output is silent.
    pub running: Vec<Option<usize>>,
    /// The class after the last step (class 0 for a silent output, as `predict` says).
    pub class: usize,
    /// The first step from which the running class stays `class` to the end.
    pub decided: Option<usize>,
    /// Processing time (without the pacing of a real-time replay).
    pub busy: Duration,
}

/// Streams `events` (in arrival order) in steps of `dt_us` through `model`, `steps` steps in
/// all (later events are dropped), the steps run as soon as they are complete; with
/// `realtime`, events are delivered at their timestamps (wall clock).
pub fn replay(
    model: &SnnModel,
    events: &[Event],
    steps: usize,
    dt_us: u32,
    form: &CausalLayerNorm,
    realtime: bool,
    device: &Device,
) -> Result<Replay, EventError> {
    let mut binner = EventBinner::new([NMNIST_SIDE, NMNIST_SIDE], dt_us);
    let mut stream = model.stream(1, device).with_layer_norm(form.clone());
    let mut counts = vec![0.0f32; 0];
    let mut running = Vec::with_capacity(steps);
    let mut busy = Duration::ZERO;
    let start = Instant::now();
    let end_us = steps as u64 * u64::from(dt_us);
    let mut run_ready = |binner: &mut EventBinner, running: &mut Vec<Option<usize>>| {
        let Some(chunk) = binner.take_chunk(device) else {
            return;
        };
        let t0 = Instant::now();
        let out = model
            .forward_chunk(&mut stream, chunk)
            .expect("a stream within the model's steps");
        let [_, k, classes] = out.dims();
        let spikes: Vec<f32> = out.into_data().convert::<f32>().try_to_vec().expect("f32");
        busy += t0.elapsed();
        if counts.is_empty() {
            counts = vec![0.0; classes];
        }
        for step in spikes.chunks(classes).take(k) {
            for (c, s) in counts.iter_mut().zip(step) {
                *c += s;
            }
            running.push(leader(&counts));
        }
    };
    for &event in events {
        if u64::from(event.t_us) >= end_us {
            break;
        }
        if realtime {
            let due = Duration::from_micros(u64::from(event.t_us));
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        binner.push(event)?;
        run_ready(&mut binner, &mut running);
    }
    // The recording ends: the sensor's clock reaches the last step's end.
    binner.advance_to(end_us);
    run_ready(&mut binner, &mut running);
    let class = running.last().copied().flatten().unwrap_or(0);
    let decided = (0..running.len())
        .rev()
        .take_while(|&t| running[t] == Some(class))
        .last();
    Ok(Replay {
        running,
        class,
        decided,
        busy,
    })
}

/// The class with the most spikes (the lowest on a tie), `None` when all are 0.
fn leader(counts: &[f32]) -> Option<usize> {
    let (best, &max) =
        counts.iter().enumerate().fold(
            (0, &counts[0]),
            |(bi, bm), (i, c)| if c > bm { (i, c) } else { (bi, bm) },
        );
    (max > 0.0).then_some(best)
}
