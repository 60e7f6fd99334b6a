"""What the side-by-side scripts share: each peer runs in a virtualenv of its own under
``target/`` (its pinned packages, plus aiops built into it in release mode), and figures are
the best of several timed runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_venv(name: str, packages: Sequence[str], build_aiops: bool = True) -> None:
    """Re-runs the calling script inside ``target/<name>`` after installing ``packages`` (and
    building aiops into it unless ``build_aiops`` is false). ``--no-build`` on the command
    line reuses an existing environment as it is."""
    venv = ROOT / "target" / name
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    py = venv / "bin" / "python"
    if py.exists() and "--no-build" in sys.argv:
        os.execv(str(py), [str(py), *sys.argv])
    if not py.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
    extra = ["maturin>=1.9,<2"] if build_aiops else []
    subprocess.check_call([str(py), "-m", "pip", "install", "-q", *packages, *extra])
    if build_aiops:
        subprocess.check_call(
            [str(venv / "bin" / "maturin"), "develop", "-q", "--release", "-m", str(ROOT / "aiops-py" / "Cargo.toml")],
            env={**os.environ, "VIRTUAL_ENV": str(venv)},
        )
    os.execv(str(py), [str(py), *sys.argv])


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The shortest of ``repeat`` timed calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def header_regex(fmt: str) -> re.Pattern[str]:
    """The loghub header regex (as logparser builds it): fields lazy, Content the rest."""
    parts = re.split(r"(<[^<>]+>)", fmt)
    out = ""
    for p in parts:
        if p.startswith("<") and p.endswith(">"):
            name = p[1:-1]
            out += f"(?P<{name}>.*)" if name == "Content" else f"(?P<{name}>.*?)"
        else:
            out += re.sub(" +", r"\\s+", p)
    return re.compile("^" + out + "$")
