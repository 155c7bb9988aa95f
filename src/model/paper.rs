//! The paper's networks and results, verbatim: the twelve architecture strings of Table 2 and
//! the accuracies of Tables 2 and 3 (Ikegawa et al., Sensors 2022).

use crate::norm::Normalization;

/// The two data sets of the paper's experiments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaperDataset {
    /// N-MNIST: `34x34x2` event frames, T = 300.
    Nmnist,
    /// Fashion-MNIST: images resized to `34x34` (one channel), rate-coded, T = 100.
    FashionMnist,
}

impl PaperDataset {
    /// Both data sets, N-MNIST first.
    pub const ALL: [PaperDataset; 2] = [Self::Nmnist, Self::FashionMnist];
}

/// Table 2's architecture string for a data set and a normalization, exactly as the paper
/// writes it (`34x34` without a channel count is one channel).
///
/// | normalization | N-MNIST | F-MNIST |
/// |---|---|---|
/// | BN, BNTT, tdBN | `34x34x2-8c3n-{16c3n}*5-16c3n-{32c3n}*5-10` | `34x34-16c3n-{32c3n}*5-32c3n-{64c3n}*5-10` |
/// | PSP-BN, PSP-LN | `34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10` | `34x34-n16c3-{n32c3}*5-n32c3-{n64c3}*5-10` |
/// | none | `34x34x2-8c3-{16c3}*5-16c3-{32c3}*5-10` | `34x34-16c3-{32c3}*5-32c3-{64c3}*5-10` |
///
/// ```
/// use burn_snn::norm::Normalization;
/// use burn_snn::model::{NetworkSpec, PaperDataset, table2_arch};
///
/// let arch = table2_arch(PaperDataset::FashionMnist, Normalization::PspLayer);
/// assert_eq!(arch, "34x34-n16c3-{n32c3}*5-n32c3-{n64c3}*5-10");
/// let spec = NetworkSpec::parse(arch).unwrap();
/// assert_eq!((spec.input(), spec.depth()), ([1, 34, 34], 13));
/// ```
pub fn table2_arch(dataset: PaperDataset, norm: Normalization) -> &'static str {
    use Normalization::*;
    match (dataset, norm) {
        (PaperDataset::Nmnist, Bn | Bntt | TdBn) => "34x34x2-8c3n-{16c3n}*5-16c3n-{32c3n}*5-10",
        (PaperDataset::Nmnist, PspBatch | PspLayer) => "34x34x2-n8c3-{n16c3}*5-n16c3-{n32c3}*5-10",
        (PaperDataset::Nmnist, None) => "34x34x2-8c3-{16c3}*5-16c3-{32c3}*5-10",
        (PaperDataset::FashionMnist, Bn | Bntt | TdBn) => {
            "34x34-16c3n-{32c3n}*5-32c3n-{64c3n}*5-10"
        }
        (PaperDataset::FashionMnist, PspBatch | PspLayer) => {
            "34x34-n16c3-{n32c3}*5-n32c3-{n64c3}*5-10"
        }
        (PaperDataset::FashionMnist, None) => "34x34-16c3-{32c3}*5-32c3-{64c3}*5-10",
    }
}

/// The test accuracy (%) the paper reports for Table 2's 13-layer network.
pub fn table2_accuracy(dataset: PaperDataset, norm: Normalization) -> f64 {
    use Normalization::*;
    match (dataset, norm) {
        (PaperDataset::Nmnist, Bn) => 85.1,
        (PaperDataset::Nmnist, Bntt) => 90.0,
        (PaperDataset::Nmnist, TdBn) => 81.8,
        (PaperDataset::Nmnist, PspBatch) => 97.4,
        (PaperDataset::Nmnist, PspLayer) => 98.2,
        (PaperDataset::Nmnist, None) => 40.6,
        (PaperDataset::FashionMnist, Bn) => 10.0,
        (PaperDataset::FashionMnist, Bntt) => 10.0,
        (PaperDataset::FashionMnist, TdBn) => 40.5,
        (PaperDataset::FashionMnist, PspBatch) => 88.6,
        (PaperDataset::FashionMnist, PspLayer) => 89.1,
        (PaperDataset::FashionMnist, None) => 84.1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NetworkSpec;

    #[test]
    fn the_strings_differ_only_where_the_paper_says() {
        for dataset in PaperDataset::ALL {
            for norm in Normalization::ALL {
                let spec = NetworkSpec::parse(table2_arch(dataset, norm)).unwrap();
                let (input, first_width) = match dataset {
                    PaperDataset::Nmnist => ([2, 34, 34], 8),
                    PaperDataset::FashionMnist => ([1, 34, 34], 16),
                };
                assert_eq!(spec.input(), input);
                assert_eq!((spec.depth(), spec.classes()), (13, 10));
                let widths: Vec<String> = spec.layers().iter().map(|l| l.to_string()).collect();
                let w = |k: usize| first_width * k;
                let layer = |c: usize| match (norm.psp_kind(), norm.is_membrane()) {
                    (Some(_), _) => format!("n{c}c3"),
                    (_, true) => format!("{c}c3n"),
                    _ => format!("{c}c3"),
                };
                let mut want = vec![layer(w(1))];
                want.extend(std::iter::repeat_n(layer(w(2)), 6));
                want.extend(std::iter::repeat_n(layer(w(4)), 5));
                want.push("10".to_string());
                assert_eq!(widths, want, "{dataset:?} {norm}");
            }
        }
        assert_eq!(
            table2_accuracy(PaperDataset::Nmnist, Normalization::PspLayer),
            98.2
        );
    }
}
