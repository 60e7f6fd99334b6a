//! Spectral residual saliency.
