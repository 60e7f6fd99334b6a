"""Side by side: rolling z-score in aiops (Python binding, release build) and in pandas.

Both score each point against the mean and sample standard deviation (ddof=1) of the
`window` points before it, so their scores must agree; the script checks that before timing.

    python3 benches/zscore_peer.py [--points 1000000] [--window 60] [--repeat 5]

It creates a virtualenv under target/bench-venv, installs numpy, pandas and maturin from PyPI,
and builds aiops there in release mode. Process start and imports are excluded from timings;
each figure is the best of --repeat runs.
"""

from __future__ import annotations

import argparse

from peer_env import best_of, ensure_venv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--window", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    ensure_venv("bench-venv", ["numpy", "pandas<3"])

    import numpy as np
    import pandas as pd

    import aiops

    n, w = args.points, args.window
    rng = np.random.default_rng(7)
    i = np.arange(n)
    values = 50 + 10 * np.sin(i * 2 * np.pi / 1440) + rng.normal(0, 2, n)
    values[4999::5000] += 25
    timestamps = 1_700_000_000_000 + i.astype(np.int64) * 60_000

    det = aiops.Detector("zscore", window=w, threshold=3.0)

    def ours():
        return det.detect(timestamps, values).scores

    s = pd.Series(values)

    def pandas_z():
        m = s.rolling(w).mean().shift(1)
        sd = s.rolling(w).std().shift(1)
        return ((s - m) / sd).abs().to_numpy()

    a, b = ours(), pandas_z()
    ok = ~np.isnan(b)
    diff = np.max(np.abs(a[ok] - b[ok]) / (1 + np.abs(b[ok])))
    assert diff < 1e-6, f"scores disagree: max relative difference {diff}"
    assert np.all(a[~ok] == 0.0)

    t_ours = best_of(args.repeat, ours)
    t_pd = best_of(args.repeat, pandas_z)
    print(f"points={n} window={w} repeat={args.repeat} (best of), scores agree to {diff:.1e}")
    print(f"aiops (python binding)  {t_ours * 1e3:9.2f} ms  {t_ours / n * 1e9:7.2f} ns/point")
    print(f"pandas rolling z-score  {t_pd * 1e3:9.2f} ms  {t_pd / n * 1e9:7.2f} ns/point")
    print(f"speed-up vs pandas: {t_pd / t_ours:.1f}x")


if __name__ == "__main__":
    main()
