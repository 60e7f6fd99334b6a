"""Side by side: aiops' detectors and their ADTK equivalents, per series, on the NAB corpus.

    python3 benches/adtk_peer.py [--data ../shared/data/nab] [--repeat 3]

Creates a virtualenv under target/adtk-venv with ADTK 0.6.2 (which needs pandas<2 and
numpy<2) and maturin, builds aiops into it in release mode, then for every NAB series and
every detector pair times one call as operators run them: ADTK's `fit_detect` on a pandas
Series, aiops' `detect` on the NumPy values (Python binding, same process). Process start,
imports and data loading are excluded; each figure is the best of --repeat runs of the whole
corpus. Prints per-detector totals and the speed-up.

The pairs do the same job but not always the same arithmetic: ADTK's detectors fit on the
whole series and then label it (batch, look-ahead), aiops' are causal and score each point
against the points before it (streaming). Parameters are matched where they mean the same.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from peer_env import ROOT, best_of, ensure_venv


def load(nab: Path):
    import numpy as np
    import pandas as pd

    series = []
    for path in sorted((nab / "data").glob("*/*.csv")):
        rows = list(csv.reader(path.open()))[1:]
        idx = pd.to_datetime([r[0] for r in rows])
        values = np.array([float(r[1]) for r in rows])
        s = pd.Series(values, index=idx)
        # ADTK refuses duplicate or unsorted indexes; NAB has a few: keep the first of each.
        s = s[~s.index.duplicated()].sort_index()
        series.append((path.name, s, np.ascontiguousarray(s.to_numpy())))
    return series


def pairs():
    import adtk.detector as ad

    import aiops

    return [
        ("threshold", lambda: ad.ThresholdAD(high=1e9, low=-1e9), lambda: aiops.Detector("threshold", upper=1e9, lower=-1e9)),
        # Static detectors, fitted once as ADTK's are (aiops: on the first window, causally;
        # ADTK: on the whole series), then every point compared.
        ("quantile", lambda: ad.QuantileAD(high=0.99, low=0.01), lambda: aiops.Detector("quantile", high=0.99, low=0.01)),
        ("iqr", lambda: ad.InterQuartileRangeAD(c=3.0), lambda: aiops.Detector("iqr", c=3.0)),
        # The same detectors refitted at every point (a stream whose range drifts): more work
        # than ADTK does.
        ("quantile (rolling)", lambda: ad.QuantileAD(high=0.99, low=0.01), lambda: aiops.Detector("quantile", high=0.99, low=0.01, fit="rolling")),
        ("iqr (rolling)", lambda: ad.InterQuartileRangeAD(c=3.0), lambda: aiops.Detector("iqr", c=3.0, fit="rolling")),
        # ADTK's shift detectors fence the double-window statistic with an IQR fitted once on
        # the whole series: aiops' fit-once mode is the equivalent.
        ("volatility_shift (fit once)", lambda: ad.VolatilityShiftAD(c=6.0, window=30), lambda: aiops.Detector("volatility_shift", c=6.0, window=30, fit="once")),
        ("level_shift (fit once)", lambda: ad.LevelShiftAD(c=6.0, window=10), lambda: aiops.Detector("level_shift", c=6.0, window=10, fit="once")),
        ("persist", lambda: ad.PersistAD(c=3.0, window=1), lambda: aiops.Detector("persist", c=3.0, window=1)),
        ("level_shift", lambda: ad.LevelShiftAD(c=6.0, window=10), lambda: aiops.Detector("level_shift", c=6.0, window=10)),
        ("volatility_shift", lambda: ad.VolatilityShiftAD(c=6.0, window=30), lambda: aiops.Detector("volatility_shift", c=6.0, window=30)),
        # ADTK's SeasonalAD removes a seasonal pattern it fits on the whole series; ours fits
        # robust STL on a trailing window and scores forecast errors, causally.
        ("seasonal", lambda: ad.SeasonalAD(c=3.0), lambda: aiops.Detector("seasonal", c=3.0)),
        ("seasonal (stl)", lambda: ad.SeasonalAD(c=3.0), lambda: aiops.Detector("stl")),
        # ADTK's GeneralizedESDTestAD runs one ESD test on the whole series; ours runs the
        # seasonal hybrid ESD on a trailing window, causally.
        ("esd (seasonal_esd)", lambda: ad.GeneralizedESDTestAD(alpha=0.05), lambda: aiops.Detector("seasonal_esd")),
        # The same test as ADTK's: fitted once (aiops: on the first 500 points), then one ESD
        # step per point.
        ("esd", lambda: ad.GeneralizedESDTestAD(alpha=0.05), lambda: aiops.Detector("esd", alpha=0.05)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "nab"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated detector names")
    ap.add_argument("--no-build", action="store_true", help="reuse the virtualenv as it is")
    args = ap.parse_args()
    ensure_venv("adtk-venv", ["adtk==0.6.2", "pandas<2", "numpy<2"])
    import warnings

    warnings.filterwarnings("ignore")
    series = load(Path(args.data))
    points = sum(len(v) for _, _, v in series)
    only = set(filter(None, args.only.split(",")))
    print(f"{len(series)} series, {points} points, best of {args.repeat}")
    print(f"{'detector':<18} {'ADTK s':>9} {'aiops s':>9} {'speed-up':>9}")
    for name, make_adtk, make_ours in pairs():
        if only and name not in only:
            continue

        def adtk_call(s):
            d = make_adtk()
            # ThresholdAD has nothing to fit.
            return (d.fit_detect if hasattr(d, "fit_detect") else d.detect)(s)

        # Both sides run on the series ADTK accepts (it refuses some, e.g. too few valid
        # values after its own windowing).
        usable = []
        for item in series:
            try:
                adtk_call(item[1])
                usable.append(item)
            except Exception:  # noqa: BLE001 - any refusal just leaves the series out
                pass

        def run_adtk():
            for _, s, _ in usable:
                adtk_call(s)

        def run_ours():
            for _, _, v in usable:
                make_ours().detect(values=v)

        t_adtk = best_of(args.repeat, run_adtk)
        t_ours = best_of(args.repeat, run_ours)
        print(
            f"{name:<18} {t_adtk:9.3f} {t_ours:9.4f} {t_adtk / t_ours:8.1f}x  ({len(usable)} series)",
            flush=True,
        )


if __name__ == "__main__":
    main()
