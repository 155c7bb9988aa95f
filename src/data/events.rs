//! N-MNIST event files: decoding and binning into spike tensors.

use super::DataError;

/// Sensor width and height of N-MNIST (ATIS, 34×34).
pub const NMNIST_SIDE: usize = 34;

/// One address event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Column, `0..34`.
    pub x: u8,
    /// Row, `0..34`.
    pub y: u8,
    /// `true` for an ON (brightness increase) event.
    pub on: bool,
    /// Timestamp in microseconds from the start of the recording.
    pub t_us: u32,
}

/// Decodes an N-MNIST `.bin` file: 5 bytes per event, a big-endian 40-bit word with byte 0 = x,
/// byte 1 = y, bit 23 = polarity (1 = ON), bits 22..0 = timestamp (µs).
///
/// Errors (never panics): an empty buffer, a length that is not a multiple of 5, or a
/// coordinate outside the 34×34 sensor.
pub fn decode_events(bytes: &[u8]) -> Result<Vec<Event>, DataError> {
    if bytes.is_empty() {
        return Err(DataError::format(
            "buffer",
            "empty N-MNIST event file (expected 5 bytes per event)",
        ));
    }
    if !bytes.len().is_multiple_of(5) {
        return Err(DataError::format(
            "buffer",
            format!(
                "{} bytes is not a whole number of 5-byte events (truncated? {} trailing bytes)",
                bytes.len(),
                bytes.len() % 5
            ),
        ));
    }
    bytes
        .chunks_exact(5)
        .enumerate()
        .map(|(i, e)| {
            let (x, y) = (e[0], e[1]);
            if usize::from(x) >= NMNIST_SIDE || usize::from(y) >= NMNIST_SIDE {
                return Err(DataError::format(
                    "buffer",
                    format!("event {i} at (x {x}, y {y}) is outside the 34×34 sensor"),
                ));
            }
            let word = u32::from_be_bytes([0, e[2], e[3], e[4]]);
            Ok(Event {
                x,
                y,
                on: word & 0x80_0000 != 0,
                t_us: word & 0x7F_FFFF,
            })
        })
        .collect()
}

/// How events become a spike tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Binning {
    /// Time steps T. The paper: 300.
    pub steps: usize,
    /// Width of a step in µs. The paper: 1000 (1 ms).
    pub dt_us: u32,
}

impl Default for Binning {
    fn default() -> Self {
        Self {
            steps: 300,
            dt_us: 1000,
        }
    }
}

impl Binning {
    /// Elements of one binned sample: `steps × 2 × 34 × 34`.
    pub fn sample_len(&self) -> usize {
        self.steps * 2 * NMNIST_SIDE * NMNIST_SIDE
    }

    /// Writes the events as spikes into `out` (`[steps, 2, 34, 34]`, row-major, zeroed by the
    /// caller): event at `t` goes to step `⌊t / dt⌋`, channel 0 for OFF and 1 for ON.
    ///
    /// - Events at or after `steps·dt` µs are dropped (the paper keeps the first 300 ms).
    /// - Several events of one pixel and polarity in one step make a single spike (value 1):
    ///   spikes are binary.
    pub fn bin_into(&self, events: &[Event], out: &mut [f32]) {
        assert_eq!(
            out.len(),
            self.sample_len(),
            "Binning::bin_into: output length"
        );
        let plane = NMNIST_SIDE * NMNIST_SIDE;
        for e in events {
            let step = (e.t_us / self.dt_us.max(1)) as usize;
            if step < self.steps {
                let channel = usize::from(e.on);
                out[(step * 2 + channel) * plane
                    + usize::from(e.y) * NMNIST_SIDE
                    + usize::from(e.x)] = 1.0;
            }
        }
    }

    /// The events as a new `[steps, 2, 34, 34]` spike buffer.
    pub fn bin(&self, events: &[Event]) -> Vec<f32> {
        let mut out = vec![0.0; self.sample_len()];
        self.bin_into(events, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(e: &Event) -> [u8; 5] {
        let word = (u32::from(e.on) << 23) | e.t_us;
        let [_, a, b, c] = word.to_be_bytes();
        [e.x, e.y, a, b, c]
    }

    #[test]
    fn decodes_hand_made_events() {
        let events = [
            Event {
                x: 0,
                y: 33,
                on: true,
                t_us: 0x7F_FFFF,
            },
            Event {
                x: 33,
                y: 0,
                on: false,
                t_us: 1234,
            },
        ];
        let bytes: Vec<u8> = events.iter().flat_map(encode).collect();
        assert_eq!(decode_events(&bytes).unwrap(), events);
        // Byte-level check of the layout: x, y, then polarity in the top bit of byte 2.
        let e = decode_events(&[5, 7, 0x80, 0x01, 0x02]).unwrap()[0];
        assert_eq!(
            e,
            Event {
                x: 5,
                y: 7,
                on: true,
                t_us: 0x0102
            }
        );
    }

    #[test]
    fn bad_bytes_are_errors() {
        assert!(
            decode_events(&[])
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let e = decode_events(&[1, 2, 3, 4, 5, 6]).unwrap_err().to_string();
        assert!(
            e.contains("6 bytes is not a whole number of 5-byte events"),
            "{e}"
        );
        let e = decode_events(&[1, 2, 0, 0, 0, 34, 0, 0, 0, 0])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "buffer: event 1 at (x 34, y 0) is outside the 34×34 sensor"
        );
    }

    #[test]
    fn binning_drops_late_events_and_merges_a_bin() {
        let b = Binning {
            steps: 3,
            dt_us: 1000,
        };
        let events = [
            Event {
                x: 1,
                y: 2,
                on: true,
                t_us: 999,
            },
            Event {
                x: 1,
                y: 2,
                on: true,
                t_us: 10,
            },
            Event {
                x: 1,
                y: 2,
                on: false,
                t_us: 2999,
            },
            Event {
                x: 1,
                y: 2,
                on: false,
                t_us: 3000,
            },
        ];
        let s = b.bin(&events);
        let at = |t: usize, c: usize| s[((t * 2 + c) * 34 + 2) * 34 + 1];
        assert_eq!((at(0, 1), at(2, 0)), (1.0, 1.0));
        assert_eq!(s.iter().sum::<f32>(), 2.0);
    }

    #[test]
    fn random_and_truncated_bytes_never_panic() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(1);
        let valid: Vec<u8> = (0..200)
            .flat_map(|i| {
                encode(&Event {
                    x: (i % 34) as u8,
                    y: (i * 7 % 34) as u8,
                    on: i % 2 == 0,
                    t_us: i * 1000,
                })
            })
            .collect();
        for case in 0..5000 {
            let bytes: Vec<u8> = if case % 2 == 0 {
                let n = rng.random_range(0..64);
                (0..n).map(|_| rng.random()).collect()
            } else {
                let mut v = valid[..rng.random_range(0..valid.len())].to_vec();
                if let Some(b) =
                    v.get_mut(rng.random_range(0..valid.len().max(1)) % valid.len().max(1))
                {
                    *b = rng.random();
                }
                v
            };
            if let Ok(events) = decode_events(&bytes) {
                assert_eq!(events.len() * 5, bytes.len());
                assert!(
                    events
                        .iter()
                        .all(|e| e.x < 34 && e.y < 34 && e.t_us < 1 << 23)
                );
                let _ = Binning::default().bin(&events);
            }
        }
    }
}
