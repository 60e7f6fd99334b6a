"""Log intelligence: streaming template mining (Drain) with named masks and snapshots, and
log anomaly detection (new/rare templates, count bursts, keyword rates, window-count PCA)."""

from aiops._aiops import LogDetector, TemplateMiner, loghub_template

__all__ = ["LogDetector", "TemplateMiner", "loghub_template"]
