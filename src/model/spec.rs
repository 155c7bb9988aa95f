//! The paper's architecture strings (Table 2), e.g. `34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10`.
//!
//! Grammar (`x` and `×` are interchangeable, as are `*` and `×` after a group):
//!
//! ```text
//! spec  := H x W [x C] ( '-' item )+      input height, width, channels (default 1)
//! item  := layer | pool | '{' item ( '-' item )* '}' '*' K     a group repeated K times
//! layer := [n] N c K [s S] [n]            convolution: N channels, K×K kernel, stride S
//!        | [n] N [n]                      dense: N neurons (the last item: the classes)
//! pool  := p K                            K×K average pooling of the next layer's PSP
//! ```
//!
//! A leading `n` puts the network's PSP normalization before the synapse (`n8c3`: PSP-norm,
//! then conv); a trailing `n` puts its membrane normalization after it (`8c3n`: conv, then BN
//! / BNTT / tdBN); neither means no normalization (`8c3`). The last item must be a dense
//! layer: its size is the number of classes.

use crate::norm::Normalization;
use core::fmt;

/// One layer of a [`NetworkSpec`]; serializes as data (`{"Conv": {"channels": 8, ...}}`), and
/// [`NetworkSpec::new`] builds a network from a list of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LayerSpec {
    /// A convolution synapse.
    Conv {
        /// Output channels.
        channels: usize,
        /// Square kernel size.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// PSP normalization before the synapse (leading `n`).
        psp_norm: bool,
        /// Membrane normalization after the synapse (trailing `n`).
        membrane_norm: bool,
    },
    /// A dense synapse (flattens the map).
    Dense {
        /// Output neurons.
        units: usize,
        /// PSP normalization before the synapse.
        psp_norm: bool,
        /// Membrane normalization after the synapse.
        membrane_norm: bool,
    },
    /// Average pooling of the next layer's PSP.
    Pool {
        /// Window and stride.
        size: usize,
    },
}

/// A parsed, valid architecture string: the input shape and the expanded layer list.
///
/// Only [`parse`](Self::parse) and [`new`](Self::new) make one, and both validate, so every
/// value is a network that can be built: a non-empty input, non-zero sizes, pooling windows
/// that fit, and a dense output layer. It serializes as its string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NetworkSpec {
    /// Input `[channels, height, width]`.
    input: [usize; 3],
    /// The layers, groups expanded.
    layers: Vec<LayerSpec>,
}

/// Why an architecture string is malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid network string {spec:?} at position {position}: expected {expected}, found {found}"
)]
pub struct SpecError {
    /// The string.
    pub spec: String,
    /// Character index (0-based) of the problem.
    pub position: usize,
    /// What the parser expected there.
    pub expected: String,
    /// What it found.
    pub found: String,
}

impl NetworkSpec {
    /// Parses an architecture string.
    pub fn parse(spec: &str) -> Result<Self, SpecError> {
        let mut parser = Parser {
            text: spec,
            chars: spec.chars().collect(),
            pos: 0,
        };
        let (parsed, positions) = parser.spec()?;
        parsed.validate(&parser, &positions)?;
        Ok(parsed)
    }

    /// The network of `input` (`[channels, height, width]`) and `layers`, checked as
    /// [`parse`](Self::parse) checks a string (an error's position is in the canonical string,
    /// [`Display`](fmt::Display)): for code that derives a variant of a network from its
    /// layers instead of editing its string.
    ///
    /// ```
    /// use burn_snn::model::{LayerSpec, NetworkSpec};
    ///
    /// let spec = NetworkSpec::parse("34x34x2-n8c3-p2-n16c3-10").unwrap();
    /// // The same network without any normalization marker.
    /// let plain: Vec<LayerSpec> = spec
    ///     .layers()
    ///     .iter()
    ///     .map(|layer| match *layer {
    ///         LayerSpec::Conv { channels, kernel, stride, .. } => LayerSpec::Conv {
    ///             channels,
    ///             kernel,
    ///             stride,
    ///             psp_norm: false,
    ///             membrane_norm: false,
    ///         },
    ///         LayerSpec::Dense { units, .. } => LayerSpec::Dense {
    ///             units,
    ///             psp_norm: false,
    ///             membrane_norm: false,
    ///         },
    ///         pool => pool,
    ///     })
    ///     .collect();
    /// let plain = NetworkSpec::new(spec.input(), plain).unwrap();
    /// assert_eq!(plain.to_string(), "34x34x2-8c3-p2-16c3-10");
    /// assert!(NetworkSpec::new([2, 34, 34], vec![]).is_err());
    /// ```
    pub fn new(input: [usize; 3], layers: Vec<LayerSpec>) -> Result<Self, SpecError> {
        Self::parse(&Self { input, layers }.to_string())
    }

    /// Input `[channels, height, width]` (the string writes `HxWxC`).
    pub fn input(&self) -> [usize; 3] {
        self.input
    }

    /// The layers, groups expanded.
    pub fn layers(&self) -> &[LayerSpec] {
        &self.layers
    }

    /// The same network with every hidden synapse layer marked for `norm`: a leading `n` for
    /// the PSP normalizations, a trailing `n` for the membrane ones, none for
    /// [`Normalization::None`]. The output layer stays unmarked, as in Table 2.
    ///
    /// ```
    /// use burn_snn::norm::Normalization;
    /// use burn_snn::model::NetworkSpec;
    ///
    /// let spec = NetworkSpec::parse("34x34x2-n8c3-p2-n16c3-10").unwrap();
    /// let bn = spec.with_norm_markers(Normalization::Bn);
    /// assert_eq!(bn.to_string(), "34x34x2-8c3n-p2-16c3n-10");
    /// ```
    pub fn with_norm_markers(mut self, norm: Normalization) -> Self {
        let psp = norm.psp_kind().is_some();
        let membrane = norm.is_membrane();
        let last = self.layers.len().saturating_sub(1);
        for layer in &mut self.layers[..last] {
            if let LayerSpec::Conv {
                psp_norm,
                membrane_norm,
                ..
            }
            | LayerSpec::Dense {
                psp_norm,
                membrane_norm,
                ..
            } = layer
            {
                *psp_norm = psp;
                *membrane_norm = membrane;
            }
        }
        self
    }

    /// Number of synapse layers (conv + dense; pooling has no weights).
    pub fn depth(&self) -> usize {
        self.layers
            .iter()
            .filter(|l| !matches!(l, LayerSpec::Pool { .. }))
            .count()
    }

    /// Number of classes (the size of the last dense layer).
    pub fn classes(&self) -> usize {
        match self.layers.last() {
            Some(LayerSpec::Dense { units, .. }) => *units,
            _ => unreachable!("a parsed spec ends with a dense layer"),
        }
    }

    /// Checks the layer sequence; an error points at the offending layer, `positions` holding
    /// where each layer starts in the string.
    fn validate(&self, parser: &Parser, positions: &[usize]) -> Result<(), SpecError> {
        let end = parser.chars.len();
        let [c, h, w] = self.input;
        if h == 0 || w == 0 || c == 0 {
            return Err(parser.error_at(0, "a non-zero input size", &format!("{h}x{w}x{c}")));
        }
        match self.layers.last() {
            Some(LayerSpec::Dense { .. }) => {}
            _ => {
                return Err(parser.error_at(
                    end,
                    "a dense layer (the class count) at the end",
                    "the end",
                ));
            }
        }
        let (mut h, mut w, mut flat) = (h, w, false);
        for (i, layer) in self.layers.iter().enumerate() {
            let at = || format!("layer {} ({layer})", i + 1);
            let position = positions[i];
            match *layer {
                LayerSpec::Conv { .. } | LayerSpec::Pool { .. } if flat => {
                    return Err(parser.error_at(
                        position,
                        "only dense layers after a dense layer",
                        &at(),
                    ));
                }
                LayerSpec::Conv { kernel, stride, .. } => {
                    if kernel == 0 || stride == 0 {
                        return Err(parser.error_at(
                            position,
                            "a non-zero kernel size and stride",
                            &at(),
                        ));
                    }
                    h = h.div_ceil(stride);
                    w = w.div_ceil(stride);
                }
                LayerSpec::Pool { size } => {
                    if size == 0 || size > h || size > w {
                        let expected = format!("a pooling window that fits the {h}x{w} map");
                        return Err(parser.error_at(position, &expected, &at()));
                    }
                    h /= size;
                    w /= size;
                }
                LayerSpec::Dense { units, .. } => {
                    if units == 0 {
                        return Err(parser.error_at(position, "a non-zero layer size", &at()));
                    }
                    flat = true;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |on: bool| if on { "n" } else { "" };
        match *self {
            LayerSpec::Conv {
                channels,
                kernel,
                stride,
                psp_norm,
                membrane_norm,
            } => {
                write!(f, "{}{channels}c{kernel}", n(psp_norm))?;
                if stride != 1 {
                    write!(f, "s{stride}")?;
                }
                f.write_str(n(membrane_norm))
            }
            LayerSpec::Dense {
                units,
                psp_norm,
                membrane_norm,
            } => {
                write!(f, "{}{units}{}", n(psp_norm), n(membrane_norm))
            }
            LayerSpec::Pool { size } => write!(f, "p{size}"),
        }
    }
}

impl fmt::Display for NetworkSpec {
    /// The canonical string: `x` separators, groups expanded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [c, h, w] = self.input;
        write!(f, "{h}x{w}x{c}")?;
        for layer in &self.layers {
            write!(f, "-{layer}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for NetworkSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NetworkSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl core::str::FromStr for NetworkSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The most layers a network string may expand to (groups repeated): far beyond any network
/// this crate trains, and a bound on what a string can make it allocate.
pub const MAX_LAYERS: usize = 10_000;

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn found(&self) -> String {
        match self.peek() {
            Some(c) => format!("{c:?}"),
            None => "the end".to_string(),
        }
    }

    fn error_at(&self, position: usize, expected: &str, found: &str) -> SpecError {
        SpecError {
            spec: self.text.to_string(),
            position,
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    fn error(&self, expected: &str) -> SpecError {
        self.error_at(self.pos, expected, &self.found())
    }

    fn eat(&mut self, options: &[char]) -> bool {
        match self.peek() {
            Some(c) if options.contains(&c) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, options: &[char], expected: &str) -> Result<(), SpecError> {
        if self.eat(options) {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn number(&mut self, expected: &str) -> Result<usize, SpecError> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.error(expected));
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits
            .parse()
            .map_err(|_| self.error_at(start, "a number that fits in usize", &digits))
    }

    /// The spec, and where each of its layers starts in the string.
    fn spec(&mut self) -> Result<(NetworkSpec, Vec<usize>), SpecError> {
        let h = self.number("the input height")?;
        self.expect(&['x', '×'], "'x' between input dims")?;
        let w = self.number("the input width")?;
        // `HxW` without a channel count is one channel (the paper's F-MNIST strings).
        let c = if self.eat(&['x', '×']) {
            self.number("the input channel count")?
        } else {
            1
        };
        let mut layers = Vec::new();
        if self.peek().is_none() {
            return Err(self.error("'-' and a layer"));
        }
        while self.peek().is_some() {
            self.expect(&['-'], "'-' before the next layer")?;
            self.item(&mut layers)?;
        }
        let (layers, positions) = layers.into_iter().unzip();
        Ok((
            NetworkSpec {
                input: [c, h, w],
                layers,
            },
            positions,
        ))
    }

    /// Parses one item into `out`, each layer with its position.
    fn item(&mut self, out: &mut Vec<(LayerSpec, usize)>) -> Result<(), SpecError> {
        let start = self.pos;
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let mut group = Vec::new();
                self.item(&mut group)?;
                while self.eat(&['-']) {
                    self.item(&mut group)?;
                }
                self.expect(&['}'], "'-' or '}' in a group")?;
                self.expect(&['*', '×'], "'*' and a repeat count after '}'")?;
                let at = self.pos;
                let count = self.number("a repeat count after '*'")?;
                if count == 0 {
                    return Err(self.error_at(at, "a repeat count of at least 1", "0"));
                }
                let total = count
                    .checked_mul(group.len())
                    .and_then(|n| n.checked_add(out.len()));
                if total.is_none_or(|n| n > MAX_LAYERS) {
                    let expected =
                        format!("a repeat count that keeps the network within {MAX_LAYERS} layers");
                    return Err(self.error_at(at, &expected, &count.to_string()));
                }
                for _ in 0..count {
                    out.extend_from_slice(&group);
                }
                Ok(())
            }
            Some('p') => {
                self.pos += 1;
                let size = self.number("a pooling size after 'p'")?;
                out.push((LayerSpec::Pool { size }, start));
                Ok(())
            }
            _ => {
                let psp_norm = self.eat(&['n']);
                let size = self.number(
                    "a layer: [n]<channels>c<kernel>[s<stride>][n], [n]<units>[n], p<size> or '{'",
                )?;
                let layer = if self.eat(&['c']) {
                    let kernel = self.number("a kernel size after 'c'")?;
                    let stride = if self.eat(&['s']) {
                        self.number("a stride after 's'")?
                    } else {
                        1
                    };
                    LayerSpec::Conv {
                        channels: size,
                        kernel,
                        stride,
                        psp_norm,
                        membrane_norm: self.eat(&['n']),
                    }
                } else {
                    LayerSpec::Dense {
                        units: size,
                        psp_norm,
                        membrane_norm: self.eat(&['n']),
                    }
                };
                if !matches!(self.peek(), None | Some('-') | Some('}')) {
                    return Err(self.error("'-', '}' or the end after a layer"));
                }
                out.push((layer, start));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(channels: usize, psp_norm: bool) -> LayerSpec {
        LayerSpec::Conv {
            channels,
            kernel: 3,
            stride: 1,
            psp_norm,
            membrane_norm: false,
        }
    }

    #[test]
    fn parses_the_papers_nmnist_string() {
        let spec = NetworkSpec::parse("34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10").unwrap();
        assert_eq!(spec.input(), [2, 34, 34]);
        assert_eq!(spec.depth(), 13);
        assert_eq!(spec.classes(), 10);
        let mut want = vec![conv(8, true)];
        want.extend([conv(16, true); 6]);
        want.extend([conv(32, true); 5]);
        want.push(LayerSpec::Dense {
            units: 10,
            psp_norm: false,
            membrane_norm: false,
        });
        assert_eq!(spec.layers(), want);
    }

    #[test]
    fn norm_placement_separators_pooling_and_hidden_dense() {
        let spec = NetworkSpec::parse("34×34×1-8c3n-{16c3s2n-p2}×2-n128n-n10").unwrap();
        assert_eq!(
            spec.layers(),
            [
                LayerSpec::Conv {
                    channels: 8,
                    kernel: 3,
                    stride: 1,
                    psp_norm: false,
                    membrane_norm: true
                },
                LayerSpec::Conv {
                    channels: 16,
                    kernel: 3,
                    stride: 2,
                    psp_norm: false,
                    membrane_norm: true
                },
                LayerSpec::Pool { size: 2 },
                LayerSpec::Conv {
                    channels: 16,
                    kernel: 3,
                    stride: 2,
                    psp_norm: false,
                    membrane_norm: true
                },
                LayerSpec::Pool { size: 2 },
                LayerSpec::Dense {
                    units: 128,
                    psp_norm: true,
                    membrane_norm: true
                },
                LayerSpec::Dense {
                    units: 10,
                    psp_norm: true,
                    membrane_norm: false
                },
            ]
        );
        assert_eq!(spec.depth(), 5);
    }

    #[test]
    fn display_round_trips_the_layer_list() {
        for s in [
            "34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10",
            "34x34x2-8c3n-{16c3n}*5-16c3n-{32c3n}*5-10",
            "34x34x1-8c3-{16c3-p2}*2-128-10",
            "28×28×1-{n8c5s2-n8c3}×3-n10",
        ] {
            let spec = NetworkSpec::parse(s).unwrap();
            let again = NetworkSpec::parse(&spec.to_string()).unwrap();
            assert_eq!(spec, again, "{s} -> {spec}");
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(json, format!("{:?}", spec.to_string()));
            assert_eq!(serde_json::from_str::<NetworkSpec>(&json).unwrap(), spec);
        }
    }

    #[test]
    fn nested_groups_expand() {
        let spec = NetworkSpec::parse("8x8x1-{{n4c3}*2-p2}*2-3").unwrap();
        let pool = LayerSpec::Pool { size: 2 };
        let c = LayerSpec::Conv {
            channels: 4,
            kernel: 3,
            stride: 1,
            psp_norm: true,
            membrane_norm: false,
        };
        let dense = LayerSpec::Dense {
            units: 3,
            psp_norm: false,
            membrane_norm: false,
        };
        assert_eq!(spec.layers(), [c, c, pool, c, c, pool, dense]);
    }

    #[test]
    fn an_invalid_string_does_not_deserialize() {
        let err = serde_json::from_str::<NetworkSpec>("\"34x34x2-n8c3\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a dense layer (the class count) at the end"),
            "{err}"
        );
    }

    fn err(s: &str) -> SpecError {
        NetworkSpec::parse(s).unwrap_err()
    }

    #[test]
    fn malformed_strings_name_the_position_and_what_was_expected() {
        let e = err("34-n8c3-10");
        assert_eq!(
            (e.position, e.expected.as_str(), e.found.as_str()),
            (2, "'x' between input dims", "'-'")
        );
        let e = err("34x34x-n8c3-10");
        assert_eq!(
            (e.position, e.expected.as_str()),
            (6, "the input channel count")
        );
        let e = err("34x34x2-n8c-10");
        assert_eq!(
            (e.position, e.expected.as_str()),
            (11, "a kernel size after 'c'")
        );
        let e = err("34x34x2-{n16c3*5-10");
        assert_eq!((e.position, e.found.as_str()), (14, "'*'"));
        let e = err("34x34x2-{n16c3}5-10");
        assert_eq!(
            (e.position, e.expected.as_str()),
            (15, "'*' and a repeat count after '}'")
        );
        let e = err("34x34x2-n8c3");
        assert_eq!(e.expected, "a dense layer (the class count) at the end");
        let e = err("34x34x2-n8c3-10-8c3-10");
        assert_eq!(e.expected, "only dense layers after a dense layer");
        let e = err("34x34x2-{n8c3}*0-10");
        assert_eq!(
            (e.position, e.expected.as_str()),
            (15, "a repeat count of at least 1")
        );
        let e = err("34x34x2-n8q3-10");
        assert_eq!((e.position, e.found.as_str()), (10, "'q'"));
        let e = err("34x34x2");
        assert_eq!((e.position, e.found.as_str()), (7, "the end"));
        let e = err("4x4x2-p8-10");
        assert_eq!(e.expected, "a pooling window that fits the 4x4 map");
        // Semantic errors point at the offending layer, also inside a repeated group.
        let e = err("34x34x2-n8c3-10-8c3-10");
        assert_eq!((e.position, e.found.as_str()), (16, "layer 3 (8c3)"));
        let e = err("8x8x1-n4c3-{n4c0}*2-10");
        assert_eq!(
            (e.position, e.expected.as_str()),
            (12, "a non-zero kernel size and stride")
        );
        let e = err("8x8x1-n4c3-p2-p2-p4-10");
        assert_eq!((e.position, e.found.as_str()), (17, "layer 4 (p4)"));
        // A repeat count that would expand past the limit is refused where it is written,
        // before anything is allocated.
        let e = err("8x8x1-{n8c3}*4000000000-10");
        assert_eq!(
            (e.position, e.expected.as_str()),
            (
                13,
                "a repeat count that keeps the network within 10000 layers"
            )
        );
        let e = err("8x8x1-{{n8c3}*100-{n8c3}*1}*100-10");
        assert_eq!(e.position, 28);
        assert!(NetworkSpec::parse("8x8x1-{n8c3}*9999-10").is_ok());
        assert_eq!(
            err("34-n8c3-10").to_string(),
            "invalid network string \"34-n8c3-10\" at position 2: expected 'x' between input dims, found '-'"
        );
    }
}
