//! Parameters of the spike response model (SRM) neuron and its SLAYER surrogate gradient.

use burn::config::Config;

/// Parameters of the SRM neuron (Ikegawa et al., 2022, Sec. 2; Shrestha & Orchard, 2018).
///
/// Time is counted in steps (one step = one time-bin of the input). The defaults are the
/// paper's Table 1.
///
/// - PSP kernel: `ε(t) = (t/τs)·e^{1−t/τs}`, `a = ε ∗ s`.
/// - Membrane potential (eq. 4): `u(t) = W·a(t) + (ν ∗ s_out)(t)` with the refractory kernel
///   `ν(t) = −2θ·e^{−t/τr}`; a spike `s(t) = 1` is emitted when `u(t) ≥ θ`.
/// - SLAYER surrogate (eq. 10): `∂s/∂u ≈ ρ(u) = (1/α)·exp(−|u − θ|/β)`.
#[derive(Config, Debug, PartialEq)]
pub struct SrmConfig {
    /// PSP time constant τs of `ε(t) = (t/τs)·e^{1−t/τs}` (steps); the PSP peaks at
    /// `t = τs` with value 1. Default: 10.
    #[config(default = 10.0)]
    pub tau_s: f64,
    /// Refractory time constant τr of `ν(t) = −2θ·e^{−t/τr}` (eq. 4, steps). Default: 10.
    #[config(default = 10.0)]
    pub tau_r: f64,
    /// Firing threshold θ: a spike when `u(t) ≥ θ` (eq. 4); also scales the refractory
    /// kernel `ν(t) = −2θ·e^{−t/τr}`. Default: 10.
    #[config(default = 10.0)]
    pub theta: f64,
    /// Surrogate scale α of `ρ(u) = (1/α)·exp(−|u−θ|/β)` (eq. 10); ρ peaks at `1/α`.
    /// Default: 10.
    #[config(default = 10.0)]
    pub alpha: f64,
    /// Surrogate width β of `ρ(u) = (1/α)·exp(−|u−θ|/β)` (eq. 10). Default: 10.
    #[config(default = 10.0)]
    pub beta: f64,
}

/// An [`SrmConfig`] value that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid SRM parameter {name} = {value}: it must be finite and > 0")]
pub struct InvalidSrmConfig {
    /// The field's name.
    pub name: &'static str,
    /// The rejected value.
    pub value: f64,
}

impl SrmConfig {
    /// Checks that every parameter is finite and strictly positive.
    pub fn check(&self) -> Result<(), InvalidSrmConfig> {
        for (name, value) in [
            ("tau_s", self.tau_s),
            ("tau_r", self.tau_r),
            ("theta", self.theta),
            ("alpha", self.alpha),
            ("beta", self.beta),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(InvalidSrmConfig { name, value });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_table_1() {
        let cfg = SrmConfig::new();
        assert_eq!(
            [cfg.tau_s, cfg.tau_r, cfg.theta, cfg.alpha, cfg.beta],
            [10.0; 5]
        );
        assert!(cfg.check().is_ok());
    }

    #[test]
    fn check_names_the_bad_field() {
        let err = SrmConfig::new().with_beta(0.0).check().unwrap_err();
        assert_eq!(err.name, "beta");
        assert_eq!(
            err.to_string(),
            "invalid SRM parameter beta = 0: it must be finite and > 0"
        );
        assert!(SrmConfig::new().with_tau_r(f64::NAN).check().is_err());
        assert!(SrmConfig::new().with_theta(-1.0).check().is_err());
    }
}
