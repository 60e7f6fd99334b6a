"""Anomaly detectors: batch (``detect``) and streaming (``update``) on one object.

Every detector of the registry is a :class:`Detector` built by name with keyword parameters:
``Detector("zscore", window=30)``, ``Detector("threshold", upper=90.0)``; ``detector_names()``
lists them, ``build_detector`` is the same constructor as a function.
"""

from aiops._aiops import (
    Detections,
    Detector,
    MultivariateDetector,
    build_detector,
    detector_names,
    multivariate_detector_names,
)

__all__ = [
    "Detections",
    "Detector",
    "MultivariateDetector",
    "build_detector",
    "detector_names",
    "multivariate_detector_names",
]
