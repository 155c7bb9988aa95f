use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Whether every parameter value and gradient is finite, from one fused reduction and one
/// read of a scalar: `Σ (x − x)` over all of them is 0 when they are finite and NaN otherwise
/// (no overflow, unlike a sum of magnitudes).
pub fn all_finite<M: Module>(model: &M, grads: &GradientsParams) -> bool {
    struct Sum<'a> {
        grads: &'a GradientsParams,
        total: Option<Tensor<1>>,
    }
    impl Sum<'_> {
        fn add<const D: usize>(&mut self, t: Tensor<D>) {
            let zero_if_finite = (t.clone() - t).sum();
            self.total = Some(match self.total.take() {
                Some(total) => {
                    let device = total.device();
                    total + zero_if_finite.to_device(&device)
                }
                None => zero_if_finite,
            });
        }
    }
    impl ModuleVisitor for Sum<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.add(param.val().inner());
            if let Some(grad) = self.grads.get::<D>(param.id) {
                self.add(grad);
            }
        }
    }
    let mut sum = Sum { grads, total: None };
    model.visit(&mut sum);
    sum.total
        .is_none_or(|total| total.into_scalar::<f64>().is_finite())
}

/// The first parameter (by module path) whose value or gradient holds a NaN or an infinity,
/// with which of the two it is.
///
/// The common case costs one scalar read: [`all_finite`] runs first, and only when it fails
/// are the parameters read one by one to name the culprit.
pub fn first_non_finite<M: Module>(model: &M, grads: &GradientsParams) -> Option<String> {
    if all_finite(model, grads) {
        return None;
    }
    struct Check<'a> {
        grads: &'a GradientsParams,
        path: Vec<String>,
        found: Option<String>,
    }
    impl ModuleVisitor for Check<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }

        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }

        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.found.is_some() {
                return;
            }
            let bad = |t: Tensor<D>| {
                let t = t.inner();
                t.clone().is_nan().any().into_scalar::<bool>()
                    || t.is_inf().any().into_scalar::<bool>()
            };
            if bad(param.val()) {
                self.found = Some(format!("{} (value)", self.path.join(".")));
            } else if let Some(grad) = self.grads.get::<D>(param.id)
                && bad(grad)
            {
                self.found = Some(format!("{} (gradient)", self.path.join(".")));
            }
        }
    }
    let mut check = Check {
        grads,
        path: Vec::new(),
        found: None,
    };
    model.visit(&mut check);
    Some(
        check
            .found
            .unwrap_or_else(|| "a parameter (only the fused check saw it)".to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synapse::SynapseDenseConfig;
    use crate::test_util::*;

    #[test]
    fn names_the_parameter_with_a_nan_gradient() {
        let device = device().autodiff();
        let layer = SynapseDenseConfig::new(2, 1).init(&device);
        let x = tensor_f32(&[1.0, f64::NAN], [1, 1, 2], &device);
        let loss = layer.forward(x).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &layer);
        assert!(!all_finite(&layer, &grads));
        assert_eq!(
            first_non_finite(&layer, &grads).as_deref(),
            Some("linear.weight (gradient)")
        );
        let x = tensor_f32(&[1.0, 2.0], [1, 1, 2], &device);
        let grads = GradientsParams::from_grads(layer.forward(x).sum().backward(), &layer);
        assert!(all_finite(&layer, &grads));
        assert_eq!(first_non_finite(&layer, &grads), None);
        // An infinity (not only a NaN) is found, and huge finite values are not flagged.
        let x = tensor_f32(&[1.0, f64::INFINITY], [1, 1, 2], &device);
        let grads = GradientsParams::from_grads(layer.forward(x).sum().backward(), &layer);
        assert!(!all_finite(&layer, &grads));
        let x = tensor_f32(&[3e38, 3e38], [1, 1, 2], &device);
        let grads = GradientsParams::from_grads(layer.forward(x).sum().backward(), &layer);
        assert!(all_finite(&layer, &grads));
    }
}
