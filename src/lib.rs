//! # burn-snn
//!
//! Spiking neural networks on [Burn](https://burn.dev): the SRM neuron with the SLAYER
//! surrogate gradient and the PSP normalization of Ikegawa et al., "Rethinking the role of
//! normalization and residual blocks for spiking neural networks" (2022).
//!
//! Tensors have the layout `[batch, time, ...]`: time is dim 1, one step per index, and the
//! remaining dims are neurons (e.g. `[batch, time, channels, height, width]`).
//!
//! - [`functional::psp`]: the alpha-kernel PSP, exact in `O(T)`, with its exact adjoint.
//! - [`functional::spike`]: spikes with the refractory response and the SLAYER surrogate.
//! - [`functional::psp_norm`] and [`norm::PspNorm`]: PSP-BN and PSP-LN.
//!
//! Modules, each depending only on those above it:
//!
//! | module | what |
//! |---|---|
//! | [`kernels`] | the backend extension ([`kernels::SnnBackend`]): CPU loops, CubeCL kernels, backward passes |
//! | [`functional`] | the operations on tensors, with [`SrmConfig`] |
//! | [`synapse`], [`norm`], [`neuron`] | synapses; PSP and membrane normalizations; the Func layer and [`neuron::LayerSettings`] |
//! | [`block`] | the convolution unit and the residual blocks |
//! | [`model`] | architecture strings, plain networks, ResNets, the model choice, decoding, losses |
//! | [`train`] | burn-train integration (classifier, metrics) and experiment runs on `SupervisedTraining` |
//!
//! Beside them: [`data`] (data sets and batchers), [`optim`] (AdaBelief), [`device`] and
//! [`memory`] (CPU device and allocator setup).
//!
//! Backends: Flex (feature `flex`, default) and NdArray (feature `ndarray`) on the CPU, wgpu
//! (feature `wgpu`) on the GPU.
#![warn(missing_docs)]

#[cfg(not(any(
    feature = "flex",
    feature = "ndarray",
    feature = "wgpu",
    feature = "cuda"
)))]
compile_error!(
    "burn-snn needs a backend: enable the `flex` (default), `ndarray`, `wgpu` or `cuda` feature"
);

pub mod block;
pub mod data;
pub mod device;
pub mod functional;
pub mod kernels;
pub mod memory;
pub mod model;
pub mod neuron;
pub mod norm;
pub mod optim;
mod srm;
pub mod synapse;
pub mod train;

#[cfg(test)]
mod test_util;

/// README's code samples, run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The user guide's code samples (`docs/guide.md`), run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
pub struct GuideDoctests;

pub use srm::{InvalidSrmConfig, SrmConfig};

/// The documentation's relative links (README, CHANGELOG, `docs/`) point at files that exist.
#[cfg(test)]
mod doc_links {
    use std::path::Path;

    /// The relative targets of the Markdown links and images in `text` (`[..](target)`) and of
    /// its HTML images (`<img src="target">`), without `#anchors`; web addresses skipped.
    fn relative_targets(text: &str) -> Vec<&str> {
        let markdown = text
            .match_indices("](")
            .map(|(at, _)| (at + 2, [')', ' ', '#']));
        let html = text
            .match_indices("src=\"")
            .map(|(at, _)| (at + 5, ['"', '"', '#']));
        markdown
            .chain(html)
            .filter_map(|(start, ends)| {
                let rest = &text[start..];
                let target = &rest[..rest.find(ends)?];
                (!target.is_empty() && !target.contains("://") && !target.starts_with("mailto:"))
                    .then_some(target)
            })
            .collect()
    }

    #[test]
    fn finds_relative_targets_only() {
        let text = "[a](docs/x.md) ![b](../r/s.svg \"t\") [c](https://x.org/y) [d](#here) \
                    [e](f.md#g) <img src=\"r/p.svg\" width=\"49%\"> <img src=\"https://x.org/i.png\">";
        assert_eq!(
            relative_targets(text),
            ["docs/x.md", "../r/s.svg", "f.md", "r/p.svg"]
        );
    }

    #[test]
    fn documentation_links_resolve() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut pages = vec![root.join("README.md"), root.join("CHANGELOG.md")];
        for entry in std::fs::read_dir(root.join("docs")).expect("docs/ is readable") {
            let path = entry.expect("docs/ entry").path();
            if path.extension().is_some_and(|e| e == "md") {
                pages.push(path);
            }
        }
        let mut broken = Vec::new();
        for page in &pages {
            let text = std::fs::read_to_string(page).expect("page is readable");
            let dir = page.parent().expect("page has a folder");
            for target in relative_targets(&text) {
                if !dir.join(target).exists() {
                    broken.push(format!("{}: {target}", page.display()));
                }
            }
        }
        assert!(
            broken.is_empty(),
            "links to missing files:\n{}",
            broken.join("\n")
        );
    }
}
