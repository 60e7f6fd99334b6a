"""Log intelligence: streaming template mining (Drain) with named masks and snapshots."""

from aiops._aiops import TemplateMiner, loghub_template

__all__ = ["TemplateMiner", "loghub_template"]
