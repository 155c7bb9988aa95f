//! The input gradient of a `3×3` stride-1 convolution by Winograd's minimal filtering
//! `F(2×2, 3×3)` (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
//! 16 multiplications per `2×2` block of outputs and pair of channels instead of 36.
//!
//! The input gradient is the correlation of the zero-bordered output gradient `G` (see
//! [`super::input_grad`]) with the flipped weights,
//! `dx[ci, y, x] = Σ_{co, ky, kx} W[co, ci, 2−ky, 2−kx]·G[co, y+ky, x+kx]`. For a block of
//! `2×2` outputs and its `4×4` tile `d` of `G`,
//!
//! `Y = Aᵀ [ Σ_co U[ci, co] ⊙ (Bᵀ d B)[co] ] A`,  `U = K g Kᵀ`,
//!
//! with `g` the flipped `3×3` filter and
//! `Bᵀ = [[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]]`, `K = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]`,
//! `Aᵀ = [[1,1,1,0],[0,1,−1,−1]]`. Each of the 16 elements of the transformed tiles is one
//! matrix product `[ci, co]·[co, tiles]` (`gemm` crate), so the direct form's `9·ci·co`
//! multiply-adds per output become `4·ci·co` plus the transforms (additions only, linear in
//! the channels). The input gradient's products were the largest single cost of a training
//! step (issue 21's profile); `docs/benchmarks.md` has what this saves.
//!
//! The transforms' entries are 0, ±1 and ±½, so the result equals the direct form's up to
//! rounding; the tests below bound the difference by `1e-12` (`f64`) and `1e-5` (`f32`) of
//! the largest value, against [`super::input_grad`]'s direct form.

use super::cpu::{Real, simd};
use super::event::ConvGeometry;
use super::input_grad::{FrameGrad, matmul};

/// The 16 elements of a transformed tile.
const E: usize = 16;

/// Tiles per matrix product: enough columns for the GEMM's micro-kernel, few enough that the
/// transformed tiles of a chunk (`16·(co + ci)` values per tile) stay in the core's L2 cache.
const TILES: usize = 320;

/// The smallest `ci·co·height·width` of a frame for which [`InputGrad3`] runs faster than the
/// direct form. Its 16 products have `co` as inner dimension and one call each per chunk, and
/// its transforms cost `16·(ci + co)` per tile: on small maps and few channels these fixed
/// costs outweigh the saved multiplications. Measured (one frame, `f32`, one thread, time
/// relative to the direct form): 34 × 34 maps 0.63 (32 → 32 channels), 0.77 (16 → 16), 0.84
/// (8 → 16), 1.05 (8 → 8); 24 × 24 1.0 (16 → 16); 17 × 17 0.61 (64 → 64), 0.81 (32 → 32),
/// 1.25 (16 → 16), 1.33 (8 → 16); 9 × 9 0.70 (64 → 64), 0.90 (32 → 32), 1.07 (16 → 32);
/// 5 × 5 2.4 (16 → 16). The threshold takes every case above 1 to the direct form and gives
/// up the one at 0.90.
const WORTH: usize = 1 << 17;

/// Whether [`InputGrad3`] serves the geometry `g` (`3×3`, stride 1, padding below 3) and is
/// faster there than the direct form ([`WORTH`]).
pub(crate) fn pays(g: &ConvGeometry) -> bool {
    g.kernel == 3
        && g.stride == 1
        && g.padding < 3
        && g.channels_in * g.channels_out * g.height * g.width >= WORTH
}

/// The input gradient of one `3×3` stride-1 convolution geometry, filters transformed once.
pub(crate) struct InputGrad3<F> {
    /// `U = K g Kᵀ` of every flipped filter, `[16, ci, co]`.
    u: Vec<F>,
    ci: usize,
    co: usize,
    /// The input map (the gradient's map).
    h: usize,
    w: usize,
    /// The output gradient's map.
    ho: usize,
    wo: usize,
    /// Zero rows and columns before the output gradient in `G`: `2 − padding`.
    border: usize,
    /// Blocks of `2×2` outputs per column and per row.
    th: usize,
    tw: usize,
}

/// The buffers of one thread.
///
/// Tiles are numbered `k = i·(tw + 1) + j` (block row `i`, column `j`); the numbers with
/// `j = tw` are padding that no output reads, so that a tile's neighbour to the right is
/// `k + 1` and the one below is `k + tw + 1` and every transform is one run over `k`.
pub(crate) struct Scratch<F> {
    /// `G` split by the parity of row and column, `[co, 2, 2, th + 2, tw + 1]`: row `r`,
    /// column `x` of channel `o` is element `(r / 2)·(tw + 1) + x / 2` of plane
    /// `(o, r % 2, x % 2)`. Its border stays zero.
    padded: Vec<F>,
    /// Transformed tiles of a chunk, `[16, co, tiles]`.
    v: Vec<F>,
    /// Their products, `[16, ci, tiles]`.
    m: Vec<F>,
    /// Partial transforms of a chunk, `[12, tiles + 1]`.
    t: Vec<F>,
}

impl<F: Real> InputGrad3<F> {
    /// For weights `[co, ci, 3, 3]` and a `3×3` stride-1 geometry with padding below 3.
    pub(crate) fn new(weight: &[F], g: &ConvGeometry) -> Self {
        assert!(
            g.kernel == 3 && g.stride == 1 && g.padding < 3,
            "InputGrad3: a 3×3 stride-1 convolution with padding below 3, not {g:?}"
        );
        let (ci, co, p, h, w) = (g.channels_in, g.channels_out, g.padding, g.height, g.width);
        assert_eq!(weight.len(), co * ci * 9, "InputGrad3: weight length");
        let half = F::from_f64(0.5);
        let mut u = vec![F::ZERO; E * ci * co];
        for o in 0..co {
            for c in 0..ci {
                let taps = &weight[(o * ci + c) * 9..][..9];
                // The flipped filter `g[ky][kx] = W[2 − ky][2 − kx]`.
                let g = |ky: usize, kx: usize| taps[(2 - ky) * 3 + (2 - kx)];
                // `K·(a, b, d)ᵀ`: `K = [[1,0,0],[½,½,½],[½,−½,½],[0,0,1]]` on a column of three.
                let k = |a: F, b: F, d: F| [a, half * (a + b + d), half * (a - b + d), d];
                // `K g` column by column (4×3), then `(K g) Kᵀ` row by row (4×4).
                let kg: [[F; 4]; 3] = core::array::from_fn(|kx| k(g(0, kx), g(1, kx), g(2, kx)));
                let kgk: [[F; 4]; 4] = core::array::from_fn(|r| k(kg[0][r], kg[1][r], kg[2][r]));
                for (r, row) in kgk.iter().enumerate() {
                    for (s, &v) in row.iter().enumerate() {
                        u[((r * 4 + s) * ci + c) * co + o] = v;
                    }
                }
            }
        }
        let (ho, wo) = (g.height_out(), g.width_out());
        Self {
            u,
            ci,
            co,
            h,
            w,
            ho,
            wo,
            border: 2 - p,
            th: h.div_ceil(2),
            tw: w.div_ceil(2),
        }
    }

    /// Rows of blocks per chunk.
    fn chunk_rows(&self) -> usize {
        (TILES / (self.tw + 1)).clamp(1, self.th)
    }

    /// Elements of one parity plane of `G`.
    fn plane(&self) -> usize {
        (self.th + 2) * (self.tw + 1)
    }
}

impl<F: Real> FrameGrad<F> for InputGrad3<F> {
    type Scratch = Scratch<F>;

    fn scratch(&self) -> Scratch<F> {
        let tiles = self.chunk_rows() * (self.tw + 1);
        Scratch {
            padded: vec![F::ZERO; self.co * 4 * self.plane()],
            v: vec![F::ZERO; E * self.co * tiles],
            m: vec![F::ZERO; E * self.ci * tiles],
            t: vec![F::ZERO; 12 * (tiles + 1)],
        }
    }

    fn frame(&self, delta: &[F], s: &mut Scratch<F>, out: &mut [F]) {
        let (ci, co, half) = (self.ci, self.co, self.tw + 1);
        assert_eq!(
            delta.len(),
            co * self.ho * self.wo,
            "InputGrad3: delta length"
        );
        assert_eq!(out.len(), ci * self.h * self.w, "InputGrad3: output length");
        simd(
            #[inline(always)]
            || {
                for o in 0..co {
                    for y in 0..self.ho {
                        self.copy_row(s, o, y, &delta[(o * self.ho + y) * self.wo..][..self.wo]);
                    }
                }
                let chunk = self.chunk_rows();
                for first in (0..self.th).step_by(chunk) {
                    let rows = chunk.min(self.th - first);
                    let (k0, n) = (first * half, rows * half);
                    for o in 0..co {
                        self.input_transform(s, o, k0, n);
                    }
                    for e in 0..E {
                        matmul(
                            &mut s.m[e * ci * n..][..ci * n],
                            &self.u[e * ci * co..][..ci * co],
                            &s.v[e * co * n..][..co * n],
                            ci,
                            co,
                            n,
                        );
                    }
                    for c in 0..ci {
                        self.output_transform(s, c, first, rows, out);
                    }
                }
            },
        )
    }
}

/// `out = a − b`.
#[inline(always)]
fn sub<F: Real>(out: &mut [F], a: &[F], b: &[F]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = a - b;
    }
}

/// `out = a + b`.
#[inline(always)]
fn add<F: Real>(out: &mut [F], a: &[F], b: &[F]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = a + b;
    }
}

/// `[a − c, b + c, c − b, b − d]` of four runs into four runs: one step of `Bᵀ`
/// (`[[1,0,−1,0],[0,1,1,0],[0,−1,1,0],[0,1,0,−1]]`).
#[inline(always)]
fn b_transpose<F: Real>(out: [&mut [F]; 4], [a, b, c, d]: [&[F]; 4]) {
    let [o0, o1, o2, o3] = out;
    sub(o0, a, c);
    add(o1, b, c);
    sub(o2, c, b);
    sub(o3, b, d);
}

/// `[a + b + c, b − c − d]`: one step of `Aᵀ` (`[[1,1,1,0],[0,1,−1,−1]]`).
#[inline(always)]
fn a_transpose<F: Real>([o0, o1]: [&mut [F]; 2], [a, b, c, d]: [&[F]; 4]) {
    for ((((o0, o1), &a), &b), (&c, &d)) in o0
        .iter_mut()
        .zip(o1.iter_mut())
        .zip(a)
        .zip(b)
        .zip(c.iter().zip(d))
    {
        *o0 = a + b + c;
        *o1 = b - c - d;
    }
}

/// `N` disjoint runs of `len` values of `buf`, `stride` apart from `start`.
#[inline(always)]
fn runs<F, const N: usize>(
    buf: &mut [F],
    start: usize,
    stride: usize,
    len: usize,
) -> [&mut [F]; N] {
    let mut rest = &mut buf[start..];
    core::array::from_fn(|i| {
        let taken = core::mem::take(&mut rest);
        let (head, tail) = taken.split_at_mut(if i + 1 < N { stride } else { len });
        rest = tail;
        &mut head[..len]
    })
}

impl<F: Real> InputGrad3<F> {
    /// Row `y` of channel `o` of the output gradient into `G` (border `2 − p`).
    #[inline(always)]
    fn copy_row(&self, s: &mut Scratch<F>, o: usize, y: usize, src: &[F]) {
        let (half, border) = (self.tw + 1, self.border);
        let r = y + border;
        let at = |cp: usize| ((o * 2 + r % 2) * 2 + cp) * self.plane() + r / 2 * half;
        // Column `x + border` lands in plane `(x + border) % 2` at `(x + border) / 2`.
        let (first, second) = if border % 2 == 0 {
            (at(0) + border / 2, at(1) + border / 2)
        } else {
            (at(1) + border / 2, at(0) + border / 2 + 1)
        };
        let k = src.len() / 2;
        let (lo, hi) = s.padded.split_at_mut(first.max(second));
        let (a, b) = if first < second {
            (&mut lo[first..][..k + 1], &mut hi[..k])
        } else {
            (&mut hi[..k + 1], &mut lo[second..][..k])
        };
        let pairs = src.chunks_exact(2);
        if let [last] = pairs.remainder() {
            a[k] = *last;
        }
        for ((pair, a), b) in pairs.zip(a.iter_mut()).zip(b.iter_mut()) {
            *a = pair[0];
            *b = pair[1];
        }
    }

    /// `Bᵀ d B` of tiles `k0..k0 + n` of channel `o` into the chunk's `V`: down the columns
    /// (rows `2i..2i + 4` are rows `i`, `i` and `i + 1`, `i + 1` of the even and odd row
    /// planes), then along the rows (columns `2j..2j + 4` likewise).
    #[inline(always)]
    fn input_transform(&self, s: &mut Scratch<F>, o: usize, k0: usize, n: usize) {
        let half = self.tw + 1;
        let plane = |rp: usize, cp: usize| ((o * 2 + rp) * 2 + cp) * self.plane() + k0;
        // `t[a][cp]`, runs of `n + 1` (row `a` of `Bᵀ d`, even and odd columns).
        for cp in 0..2 {
            let (even, odd) = (plane(0, cp), plane(1, cp));
            let g = &s.padded;
            let d = [
                &g[even..][..n + 1],
                &g[odd..][..n + 1],
                &g[even + half..][..n + 1],
                &g[odd + half..][..n + 1],
            ];
            b_transpose(runs(&mut s.t, cp * (n + 1), 2 * (n + 1), n + 1), d);
        }
        let co = self.co;
        for a in 0..4 {
            let t = &s.t[a * 2 * (n + 1)..][..2 * (n + 1)];
            let (even, odd) = t.split_at(n + 1);
            let d = [&even[..n], &odd[..n], &even[1..], &odd[1..]];
            b_transpose(runs(&mut s.v, (a * 4 * co + o) * n, co * n, n), d);
        }
    }

    /// `Aᵀ M A` of the chunk's tiles (block rows `first..first + rows`) for input channel `c`,
    /// into `out` (`[ci, h, w]`).
    #[inline(always)]
    fn output_transform(
        &self,
        s: &mut Scratch<F>,
        c: usize,
        first: usize,
        rows: usize,
        out: &mut [F],
    ) {
        let (ci, half, tw, h, w) = (self.ci, self.tw + 1, self.tw, self.h, self.w);
        let n = rows * half;
        let m = |a: usize, b: usize| &s.m[((a * 4 + b) * ci + c) * n..][..n];
        // `x[dy][b]`: row `dy` of `Aᵀ M`.
        let (x, y) = s.t.split_at_mut(8 * n);
        for b in 0..4 {
            let [top, bottom] = runs(x, b * n, 4 * n, n);
            a_transpose([top, bottom], [m(0, b), m(1, b), m(2, b), m(3, b)]);
        }
        for dy in 0..2 {
            let x = &x[dy * 4 * n..][..4 * n];
            let (x0, rest) = x.split_at(n);
            let (x1, rest) = rest.split_at(n);
            let (x2, x3) = rest.split_at(n);
            let [left, right] = runs(y, 0, n, n);
            a_transpose([left, right], [x0, x1, x2, x3]);
            let (left, right) = y.split_at(n);
            for i in 0..rows {
                let row = 2 * (first + i) + dy;
                if row >= h {
                    break;
                }
                let dst = &mut out[(c * h + row) * w..][..w];
                let (l, r) = (&left[i * half..][..tw], &right[i * half..][..tw]);
                let (pairs, tail) = dst.split_at_mut(w / 2 * 2);
                for ((pair, &l), &r) in pairs.chunks_exact_mut(2).zip(l).zip(r) {
                    pair[0] = l;
                    pair[1] = r;
                }
                if let [last] = tail {
                    *last = l[w / 2];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::event::tests::pseudo_random;
    use crate::kernels::input_grad::direct_frame;

    /// Where the measured speed says: the Table 2 networks' `34 × 34` layers, not the pooled
    /// ones of the CPU presets or the first layer's 8 channels beyond `34 × 34`.
    #[test]
    fn runs_where_it_pays() {
        let g = |ci: usize, co: usize, side: usize| ConvGeometry {
            channels_in: ci,
            channels_out: co,
            height: side,
            width: side,
            kernel: 3,
            stride: 1,
            padding: 1,
        };
        for (ci, co, side, fast) in [
            (32, 32, 34, true),
            (16, 16, 34, true),
            (8, 16, 34, true),
            (64, 64, 17, true),
            (8, 8, 34, false),
            (16, 16, 17, false),
            (8, 16, 17, false),
            (16, 32, 9, false),
            (16, 16, 5, false),
        ] {
            assert_eq!(pays(&g(ci, co, side)), fast, "{ci} → {co}, {side} × {side}");
        }
        assert!(!pays(&ConvGeometry {
            stride: 2,
            ..g(32, 32, 34)
        }));
        assert!(!pays(&ConvGeometry {
            kernel: 5,
            ..g(32, 32, 34)
        }));
    }

    /// Against the direct form (itself checked against the adjoint by definition), for every
    /// padding, odd and even maps, a map of one chunk, a row wider than a chunk and a map of
    /// several chunks with a shorter last one, in `f64` (to rounding) and `f32`.
    #[test]
    fn matches_the_direct_form() {
        for (ci, co, p, h, w) in [
            (3, 4, 1, 5, 7),
            (2, 5, 0, 6, 5),
            (4, 3, 2, 4, 4),
            (1, 1, 1, 1, 1),
            (16, 32, 1, 34, 34),
            (5, 7, 1, 3, 301),
            (2, 3, 1, 41, 37),
        ] {
            let g = ConvGeometry {
                channels_in: ci,
                channels_out: co,
                height: h,
                width: w,
                kernel: 3,
                stride: 1,
                padding: p,
            };
            let delta = pseudo_random(g.frame_out(), 11);
            let weight = pseudo_random(g.weight_len(), 12);
            let want = direct_frame(&delta, &weight, &g);
            let fast = InputGrad3::new(&weight, &g);
            let mut scratch = fast.scratch();
            let mut got = vec![f64::NAN; g.frame_in()];
            fast.frame(&delta, &mut scratch, &mut got);
            let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() < 1e-12 * scale, "{g:?} at {i}: {a} vs {b}");
            }
            // A second frame through the same buffers (the border must have stayed zero).
            let delta2 = pseudo_random(g.frame_out(), 13);
            fast.frame(&delta2, &mut scratch, &mut got);
            let want2 = direct_frame(&delta2, &weight, &g);
            for (a, b) in got.iter().zip(&want2) {
                assert!(
                    (a - b).abs() < 1e-12 * scale,
                    "{g:?}, second frame: {a} vs {b}"
                );
            }
            let single = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<f32>>();
            let fast = InputGrad3::new(&single(&weight), &g);
            let mut got = vec![f32::NAN; g.frame_in()];
            fast.frame(&single(&delta2), &mut fast.scratch(), &mut got);
            for (a, b) in got.iter().zip(&want2) {
                assert!(
                    (f64::from(*a) - b).abs() < 1e-5 * scale,
                    "{g:?}, f32: {a} vs {b}"
                );
            }
        }
    }
}
