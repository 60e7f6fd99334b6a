"""Side by side: aiops' AutoETS against statsforecast's AutoETS and augurs' MSTL-ETS.

    python3 benches/statsforecast_peer.py [N_SERIES=50] [--m4 ../shared/data/m4] [--no-build]

Creates a virtualenv under target/statsforecast-venv with statsforecast 2.1.1, augurs and
maturin (PyPI), builds aiops into it in release mode, then, pinned to one core:

- generates N synthetic hourly series of 700 points (daily and weekly cycles, a slow trend,
  noise; seeded, so every tool sees the same data),
- times, per series, AutoETS with season 24, fit + 48-step forecast with a 95% interval:
  statsforecast (`AutoETS(season_length=24)`, numba compiled once before timing), aiops
  (`aiops.forecast.AutoETS(24)`, the Python binding in the same process), and augurs'
  `MSTL.ets([24])` (augurs has no seasonal AutoETS; MSTL with an ETS trend is its seasonal
  model);
- prints per-series milliseconds and the ratios, then aiops' batch mode
  (`forecast_many`, rayon) on 2 cores.

With --m4 DIR it also scores the three on the M4 hourly series in DIR (48 steps, MASE with
season 24 as in M4), so speed and accuracy are compared on the same models.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from peer_env import ensure_venv


def synthetic(n_series: int, n: int = 700):
    import numpy as np

    out = []
    for s in range(n_series):
        rng = np.random.default_rng(1000 + s)
        t = np.arange(n)
        level = rng.uniform(20, 80)
        daily = rng.uniform(3, 15) * np.sin(2 * np.pi * (t + rng.integers(24)) / 24)
        weekly = rng.uniform(0, 5) * ((t // 24) % 7 >= 5)
        trend = rng.uniform(-0.01, 0.02) * t
        noise = rng.normal(0, rng.uniform(0.5, 3), n)
        out.append(np.ascontiguousarray(level + daily - weekly + trend + noise, dtype=np.float64))
    return out


def runners():
    import augurs
    import numpy as np
    from statsforecast.models import AutoETS

    import aiops.forecast as fc

    def statsforecast(y):
        m = AutoETS(season_length=24)
        m.fit(y)
        return np.asarray(m.predict(h=48, level=[95])["mean"])

    def ours(y):
        return fc.AutoETS(24).fit(y).predict(48, levels=[95]).mean

    def augurs_mstl(y):
        m = augurs.MSTL.ets([24])
        m.fit(y)
        return np.asarray(m.predict(48, level=0.95).point())

    return [("statsforecast AutoETS", statsforecast), ("aiops AutoETS", ours), ("augurs MSTL-ETS", augurs_mstl)]


def m4(dir_: Path):
    import numpy as np

    def rows(name):
        lines = (dir_ / name).read_text().splitlines()[1:]
        return {l.split(",")[0]: np.array([float(v) for v in l.split(",")[1:] if v]) for l in lines}

    train, test = rows("Hourly-train.csv"), rows("Hourly-test.csv")
    return [(train[k], test[k]) for k in train]


def mase(train, test, f, m=24):
    import numpy as np

    scale = np.mean(np.abs(train[m:] - train[:-m]))
    return float(np.mean(np.abs(test - f)) / scale)


def smape(test, f):
    import numpy as np

    return float(np.mean(200 * np.abs(test - f) / (np.abs(test) + np.abs(f))))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n_series", type=int, nargs="?", default=50)
    ap.add_argument("--m4", default="", help="M4 folder: also score MASE / sMAPE on it")
    ap.add_argument("--no-build", action="store_true", help="reuse the virtualenv as it is")
    args = ap.parse_args()
    ensure_venv("statsforecast-venv", ["statsforecast==2.1.1", "augurs", "numpy"])
    import warnings

    warnings.filterwarnings("ignore")
    import aiops.forecast as fc

    all_cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(all_cpus)})
    series = synthetic(args.n_series)
    run = runners()
    for _, f in run:
        f(series[0])  # warm-up: numba compiles statsforecast's kernels on first use
    print(f"{len(series)} synthetic hourly series x 700 points, AutoETS season 24, 48 steps, one core")
    times = {}
    for name, f in run:
        t0 = time.perf_counter()
        for y in series:
            f(y)
        times[name] = (time.perf_counter() - t0) / len(series) * 1000
    base = times["aiops AutoETS"]
    for name, ms in times.items():
        print(f"{name:<24} {ms:9.2f} ms/series   {ms / base:7.1f}x aiops")

    os.sched_setaffinity(0, all_cpus)
    t0 = time.perf_counter()
    fc.forecast_many("ets", series, 48, periods=[24], levels=[95])
    ms = (time.perf_counter() - t0) / len(series) * 1000
    print(f"{'aiops forecast_many':<24} {ms:9.2f} ms/series   on {len(all_cpus)} cores (rayon)")

    if args.m4:
        os.sched_setaffinity(0, {min(all_cpus)})
        data = m4(Path(args.m4))
        print(f"\nM4 hourly, {len(data)} series, 48 steps, season 24 (one core)")
        for name, f in run:
            t0 = time.perf_counter()
            scores = []
            for tr, te in data:
                fc_ = f(tr)[:48]
                scores.append((mase(tr, te, fc_), smape(te, fc_)))
            secs = time.perf_counter() - t0
            print(
                f"{name:<24} MASE {sum(s[0] for s in scores) / len(scores):.3f}"
                f"  sMAPE {sum(s[1] for s in scores) / len(scores):.3f}  ({secs:.1f} s)"
            )


if __name__ == "__main__":
    main()
