"""Anomaly detectors: batch (``detect``) and streaming (``update``) on one object."""

from aiops._aiops import (
    Detections,
    Detector,
    RollingZScore,
    Threshold,
    build_detector,
    detector_names,
)

__all__ = ["Detections", "Detector", "RollingZScore", "Threshold", "build_detector", "detector_names"]
