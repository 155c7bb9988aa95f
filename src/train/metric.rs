//! [`FiringRateMetric`]: the mean firing rate of one spiking layer as a burn-train metric.

use super::SpikeClassificationOutput;
use burn::tensor::Tensor;
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes,
    NumericEntry, SerializedEntry,
    state::{FormatOptions, NumericMetricState},
};
use std::sync::Arc;

/// The input of a [`FiringRateMetric`]: every layer's rate.
pub struct FiringRateInput {
    rates: Vec<Tensor<1>>,
    names: Arc<Vec<String>>,
}

impl Adaptor<FiringRateInput> for SpikeClassificationOutput {
    fn adapt(&self) -> FiringRateInput {
        FiringRateInput {
            rates: self.rates.clone(),
            names: self.names.clone(),
        }
    }
}

/// The mean firing rate of one spiking layer (spikes per neuron per step, the paper's
/// Figs. 6–7) as a burn-train numeric metric, averaged over the batches of an epoch.
///
/// One metric per layer: [`FiringRateMetric::layer`] with the layer's index in the model's
/// `forward_with_rates` order.
#[derive(Clone)]
pub struct FiringRateMetric {
    layer: usize,
    name: MetricName,
    state: NumericMetricState,
}

impl FiringRateMetric {
    /// The rate of layer `layer` (0-based, in `forward_with_rates` order), shown as
    /// `Firing rate <name>`.
    pub fn layer(layer: usize, name: &str) -> Self {
        Self {
            layer,
            name: Arc::new(format!("Firing rate {name}")),
            state: NumericMetricState::default(),
        }
    }
}

impl Metric for FiringRateMetric {
    type Input = FiringRateInput;

    fn update(
        &mut self,
        input: &FiringRateInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, burn::tensor::TensorReadError> {
        let rate = input.rates.get(self.layer).unwrap_or_else(|| {
            panic!(
                "FiringRateMetric: layer {} of a model with {} spiking layers ({:?})",
                self.layer,
                input.rates.len(),
                input.names
            )
        });
        let rate = rate.clone().try_into_scalar::<f64>()?;
        self.state.update(rate, 1);
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name()).precision(5)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, burn::tensor::TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name()).precision(5)))
    }

    fn clear(&mut self) {
        self.state.reset()
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some("spikes/neuron/step".into()),
            higher_is_better: true,
        }
        .into()
    }
}

impl Numeric for FiringRateMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
