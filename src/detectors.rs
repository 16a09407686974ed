//! Builds the detector chain a config asks for.

use anyhow::Context;
use spanguard_config::AnomalyConfig;
use spanguard_processor::frequency::{FrequencyDetector, FrequencyModel};
use spanguard_processor::Detector;

/// The detectors of `processors.<name>`, in chain order.
pub fn build(name: &str, config: &AnomalyConfig) -> anyhow::Result<Vec<Box<dyn Detector>>> {
    let mut chain: Vec<Box<dyn Detector>> = Vec::new();
    if let Some(f) = &config.frequency {
        let model = FrequencyModel::load(&f.model).with_context(|| format!("processors.{name}.frequency.model"))?;
        if model.window != config.window.traces {
            tracing::warn!(
                model_window = model.window,
                window = config.window.traces,
                "the frequency model was trained for windows of {} traces but processors.{name}.window.traces is {}: its threshold assumes the former",
                model.window,
                config.window.traces
            );
        }
        tracing::info!(
            sequences = model.sequences.len(),
            threshold = model.validation.threshold,
            "frequency detector loaded"
        );
        chain.push(Box::new(FrequencyDetector::new(&model)));
    }
    Ok(chain)
}
