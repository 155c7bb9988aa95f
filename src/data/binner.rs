//! Binning a live event stream into time steps, incrementally.

use super::Event;
use burn::tensor::{Device, Tensor, TensorData};
use std::collections::VecDeque;

/// Why an event was refused by an [`EventBinner`]. The binner's state is unchanged: the
/// events before it are kept, and the stream goes on with the next one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The event's address is outside the sensor.
    #[error("event {index} at (x {x}, y {y}) is outside the {width}×{height} sensor")]
    OutsideSensor {
        /// The event's position in the stream (0 for the first event pushed).
        index: u64,
        /// Column.
        x: u16,
        /// Row.
        y: u16,
        /// Sensor width.
        width: usize,
        /// Sensor height.
        height: usize,
    },
    /// The event is older than what the binner has already seen or closed.
    #[error(
        "event {index} at {t_us} µs goes back in time: the stream is at {now_us} µs (events must arrive in time order)"
    )]
    Backwards {
        /// The event's position in the stream.
        index: u64,
        /// Its timestamp.
        t_us: u64,
        /// The latest timestamp seen, or the end of the last closed step.
        now_us: u64,
    },
}

/// Turns address events, in arrival order, into the spike frames of consecutive time steps of
/// `dt` µs, as a live sensor delivers them: step `k` covers `[k·dt, (k+1)·dt)` µs and is
/// complete once an event (or [`advance_to`](Self::advance_to)) reaches its end, or on an
/// explicit [`flush`](Self::flush).
///
/// Frames are `[2, height, width]`: channel 0 for OFF events, 1 for ON; several events of one
/// pixel and polarity in one step make one spike (value 1), as [`Binning`](super::Binning)
/// does for a whole recording (the two agree step for step). Bad events get an [`EventError`]
/// naming them and change nothing, so the stream goes on.
///
/// # Example
///
/// ```
/// use burn_snn::data::{Event, EventBinner};
///
/// let mut binner = EventBinner::new([34, 34], 1000);
/// binner.push(Event { x: 3, y: 4, on: true, t_us: 200 }).unwrap();
/// assert_eq!(binner.ready(), 0); // step 0 is still open
/// binner.push(Event { x: 5, y: 4, on: false, t_us: 2_500 }).unwrap();
/// assert_eq!(binner.ready(), 2); // steps 0 and 1 are complete, step 2 is open
/// assert!(binner.push(Event { x: 40, y: 0, on: true, t_us: 2_600 }).is_err());
/// assert!(binner.push(Event { x: 1, y: 0, on: true, t_us: 100 }).is_err());
/// let frame = binner.pop().unwrap();
/// assert_eq!(frame[34 * 34 + 4 * 34 + 3], 1.0); // ON channel, row 4, column 3
/// ```
#[derive(Clone, Debug)]
pub struct EventBinner {
    width: usize,
    height: usize,
    dt_us: u64,
    /// The open step's index.
    step: u64,
    /// The open step's frame.
    frame: Vec<f32>,
    /// The latest timestamp accepted (or the start of the open step).
    now_us: u64,
    /// Events pushed so far (accepted or not).
    pushed: u64,
    /// Complete frames not yet taken.
    ready: VecDeque<Vec<f32>>,
}

impl EventBinner {
    /// A binner for a sensor of `[width, height]` pixels and steps of `dt_us` µs, starting at
    /// time 0.
    ///
    /// # Panics
    ///
    /// If a dimension or `dt_us` is 0.
    pub fn new([width, height]: [usize; 2], dt_us: u32) -> Self {
        assert!(
            width > 0 && height > 0 && dt_us > 0,
            "EventBinner: the sensor size and the step must be > 0, got {width}×{height} and {dt_us} µs"
        );
        Self {
            width,
            height,
            dt_us: u64::from(dt_us),
            step: 0,
            frame: vec![0.0; 2 * width * height],
            now_us: 0,
            pushed: 0,
            ready: VecDeque::new(),
        }
    }

    /// The sensor's `[width, height]`.
    pub fn sensor(&self) -> [usize; 2] {
        [self.width, self.height]
    }

    /// Elements of one frame, `2 × height × width`.
    pub fn frame_len(&self) -> usize {
        self.frame.len()
    }

    /// The index of the open step (the steps before it are complete).
    pub fn open_step(&self) -> u64 {
        self.step
    }

    /// Adds one event. Steps before the event's step are completed.
    ///
    /// # Errors
    ///
    /// [`EventError`] for an address outside the sensor or a timestamp before the stream's
    /// time; the event is dropped and nothing else changes.
    pub fn push(&mut self, event: Event) -> Result<(), EventError> {
        self.push_at(
            u16::from(event.x),
            u16::from(event.y),
            event.on,
            u64::from(event.t_us),
        )
    }

    /// [`push`](Self::push) of an event given by its fields (for sensors larger than N-MNIST's
    /// and timestamps past 2³² µs).
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub fn push_at(&mut self, x: u16, y: u16, on: bool, t_us: u64) -> Result<(), EventError> {
        let index = self.pushed;
        self.pushed += 1;
        if usize::from(x) >= self.width || usize::from(y) >= self.height {
            return Err(EventError::OutsideSensor {
                index,
                x,
                y,
                width: self.width,
                height: self.height,
            });
        }
        if t_us < self.now_us {
            return Err(EventError::Backwards {
                index,
                t_us,
                now_us: self.now_us,
            });
        }
        self.advance_to(t_us);
        let plane = self.width * self.height;
        self.frame[usize::from(on) * plane + usize::from(y) * self.width + usize::from(x)] = 1.0;
        Ok(())
    }

    /// Moves the stream's time to `t_us` without an event (e.g. the sensor's clock when it is
    /// quiet): every step ending at or before `t_us` is completed. A time before the stream's
    /// is ignored.
    pub fn advance_to(&mut self, t_us: u64) {
        let step = t_us / self.dt_us;
        while self.step < step {
            self.close();
        }
        self.now_us = self.now_us.max(t_us);
    }

    /// Completes the open step now, before its end (e.g. at the end of a recording); the next
    /// step opens, and events of the closed step's time are refused from then on.
    pub fn flush(&mut self) {
        self.close();
        self.now_us = self.now_us.max(self.step * self.dt_us);
    }

    /// Complete frames waiting to be taken.
    pub fn ready(&self) -> usize {
        self.ready.len()
    }

    /// The oldest complete frame (`[2, height, width]`, row-major), if any.
    pub fn pop(&mut self) -> Option<Vec<f32>> {
        self.ready.pop_front()
    }

    /// Every complete frame as one chunk for a stream of batch 1, `[1, k, 2, height, width]`,
    /// or `None` when none is complete.
    pub fn take_chunk(&mut self, device: &Device) -> Option<Tensor<5>> {
        let k = self.ready.len();
        if k == 0 {
            return None;
        }
        let mut values = Vec::with_capacity(k * self.frame.len());
        for frame in self.ready.drain(..) {
            values.extend_from_slice(&frame);
        }
        let shape = [1, k, 2, self.height, self.width];
        Some(Tensor::from_data(TensorData::new(values, shape), device))
    }

    fn close(&mut self) {
        let empty = vec![0.0; self.frame.len()];
        self.ready
            .push_back(core::mem::replace(&mut self.frame, empty));
        self.step += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Binning;

    fn event(x: u8, y: u8, on: bool, t_us: u32) -> Event {
        Event { x, y, on, t_us }
    }

    /// A pseudo-random recording in time order.
    fn recording(n: usize, seed: u64) -> Vec<Event> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let mut t = 0;
        (0..n)
            .map(|_| {
                t += next() % 700;
                event((next() % 34) as u8, (next() % 34) as u8, next() % 2 == 1, t)
            })
            .collect()
    }

    #[test]
    fn frames_match_the_whole_recording_binning() {
        let events = recording(3000, 5);
        let binning = Binning {
            steps: 40,
            dt_us: 1000,
        };
        let whole = binning.bin(&events);
        let mut binner = EventBinner::new([34, 34], 1000);
        let mut frames = Vec::new();
        for e in &events {
            binner.push(*e).unwrap();
            while let Some(frame) = binner.pop() {
                frames.extend(frame);
            }
        }
        binner.flush();
        frames.extend(binner.pop().unwrap());
        assert!(frames.len() >= whole.len());
        assert_eq!(&frames[..whole.len()], whole.as_slice());
        assert!(whole.contains(&1.0));
    }

    #[test]
    fn quiet_time_completes_empty_steps_and_flush_closes_a_partial_one() {
        let mut binner = EventBinner::new([4, 3], 100);
        binner.push(event(1, 2, false, 50)).unwrap();
        binner.advance_to(99);
        assert_eq!(binner.ready(), 0);
        binner.advance_to(350);
        assert_eq!(binner.ready(), 3);
        assert_eq!(binner.open_step(), 3);
        let first = binner.pop().unwrap();
        assert_eq!(first.iter().filter(|&&v| v == 1.0).count(), 1);
        assert_eq!(first[2 * 4 + 1], 1.0);
        assert!(binner.pop().unwrap().iter().all(|&v| v == 0.0));
        binner.flush();
        assert_eq!(binner.ready(), 2);
        // The flushed step's time is over.
        assert_eq!(
            binner.push(event(0, 0, true, 390)),
            Err(EventError::Backwards {
                index: 1,
                t_us: 390,
                now_us: 400
            })
        );
        binner.push(event(0, 0, true, 400)).unwrap();
        let chunk = binner.take_chunk(&burn::tensor::Device::default()).unwrap();
        assert_eq!(chunk.dims(), [1, 2, 2, 3, 4]);
    }

    #[test]
    fn bad_events_are_refused_by_name_and_change_nothing() {
        let mut binner = EventBinner::new([34, 34], 1000);
        binner.push(event(1, 1, true, 1500)).unwrap();
        let before = (binner.ready(), binner.open_step(), binner.frame.clone());
        let outside = binner.push(event(34, 2, true, 1600)).unwrap_err();
        assert_eq!(
            outside.to_string(),
            "event 1 at (x 34, y 2) is outside the 34×34 sensor"
        );
        let back = binner.push(event(2, 2, true, 1499)).unwrap_err();
        assert_eq!(
            back.to_string(),
            "event 2 at 1499 µs goes back in time: the stream is at 1500 µs (events must arrive in time order)"
        );
        assert_eq!(
            (binner.ready(), binner.open_step(), binner.frame.clone()),
            before
        );
        binner.push(event(2, 2, false, 1500)).unwrap();
        assert_eq!(binner.ready(), 1);
    }
}
