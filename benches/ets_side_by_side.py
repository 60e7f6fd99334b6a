"""AutoETS side by side, per series: aiops against statsforecast, on M4 hourly and on
rolling-origin folds cut from the training parts.

    python3 benches/ets_side_by_side.py --m4 ../shared/data/m4 [--folds 3] [--no-build]
        [--aiops-bin target/release/examples/ets_dump] [--peer-cache FILE] [--out FILE] [--time N]

For every series and every origin (fold 0: the whole training part, scored on the M4 test
part; fold k = 1..FOLDS: the training part minus 48k points, scored on the next 48 points of
the training part, so the test parts are never looked at) both sides fit AutoETS with season
24 and forecast 48 steps. Recorded per fit: the chosen form (error, trend, season, damped),
alpha / beta / gamma / phi, the log-likelihood (statsforecast's convention,
-0.5 (n log SSE + 2 sum log|yhat|), which aiops' -2 log L is converted to), AICc, seconds,
MASE (seasonal naive scale, m = 24, from the fit's own history) and sMAPE.

statsforecast 2.1.1 runs in this script's virtualenv (`target/statsforecast-venv`), pinned to
one core, and its results are cached in --peer-cache (it takes about 0.5 s per fit). aiops
runs through the `ets_dump` example (build it first:
`cargo build --release -p aiops-forecast --example ets_dump`), also pinned to one core.
Prints the aggregates per side and origin, the agreement of chosen forms, and writes the
per-fit rows to --out (JSON lines). --time N (default 40) then times both sides afresh, one
after the other on the same core, on the first N whole training parts: the speed ratio to
quote (the cached statsforecast seconds may come from a loaded or shared run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import time
from pathlib import Path

from peer_env import ROOT, ensure_venv

H, M = 48, 24


def load(dir_: Path):
    def rows(name):
        out = {}
        for line in (dir_ / name).read_text().splitlines()[1:]:
            cells = line.split(",")
            out[cells[0].strip('"')] = [float(v.strip('"')) for v in cells[1:] if v.strip()]
        return out

    return rows("Hourly-train.csv"), rows("Hourly-test.csv")


def origins(train, test, folds):
    """(fold, history, actual) for every origin of one series."""
    yield 0, train, test[:H]
    for k in range(1, folds + 1):
        cut = len(train) - H * k
        if cut > 2 * M:
            yield k, train[:cut], train[cut : cut + H]


def mase(hist, actual, f):
    scale = sum(abs(hist[t] - hist[t - M]) for t in range(M, len(hist))) / (len(hist) - M)
    return sum(abs(a - b) for a, b in zip(actual, f)) / len(actual) / scale


def smape(actual, f):
    return sum(200 * abs(a - b) / (abs(a) + abs(b)) if abs(a) + abs(b) else 0.0 for a, b in zip(actual, f)) / len(actual)


def peer(train, test, folds, cache: Path, reverse=False):
    import numpy as np
    from statsforecast.models import AutoETS

    done = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            r = json.loads(line)
            done[(r["id"], r["fold"])] = r
    AutoETS(season_length=M).fit(np.asarray(train[next(iter(train))], dtype=float))  # numba warm-up
    with cache.open("a") as out:
        for sid in reversed(list(train)) if reverse else train:
            for fold, hist, _ in origins(train[sid], test[sid], folds):
                if (sid, fold) in done:
                    continue
                y = np.asarray(hist, dtype=float)
                t0 = time.perf_counter()
                m = AutoETS(season_length=M).fit(y)
                f = np.asarray(m.predict(h=H)["mean"], dtype=float)
                secs = time.perf_counter() - t0
                d = m.model_
                comp = d["components"]
                par = [float(v) for v in d["par"][:4]]
                r = {
                    "id": sid,
                    "fold": fold,
                    "n": len(hist),
                    "error": comp[0],
                    "trend": comp[1],
                    "season": comp[2],
                    "damped": comp[3] == "D",
                    "alpha": par[0],
                    "beta": None if math.isnan(par[1]) else par[1],
                    "gamma": None if math.isnan(par[2]) else par[2],
                    "phi": None if math.isnan(par[3]) else par[3],
                    "loglik": float(d["loglik"]),
                    "aicc": float(d["aicc"]),
                    "micros": secs * 1e6,
                    "forecast": [float(v) for v in f],
                }
                done[(sid, fold)] = r
                out.write(json.dumps(r) + "\n")
                out.flush()
    return done


def ours(bin_: Path, train_csv: Path, folds):
    out = subprocess.run([str(bin_), str(train_csv), str(H), str(M), str(folds)], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        r = json.loads(line)
        n = r["n"]
        # aiops: -2 log L = n log(SSE/n) + n (1 + log 2 pi) + 2 sum log|yhat|
        r["loglik"] = -0.5 * (r["neg2loglik"] - n * (1 + math.log(2 * math.pi)) + n * math.log(n))
        rows[(r["id"], r["fold"])] = r
    return rows


def form(r):
    return f"{r['error']}{r['trend']}{'d' if r['damped'] else ''}{r['season']}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--m4", default=str(ROOT.parent / "shared" / "data" / "m4"))
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--no-build", action="store_true", help="reuse the virtualenv as it is")
    ap.add_argument("--aiops-bin", default=str(ROOT / "target" / "release" / "examples" / "ets_dump"))
    ap.add_argument("--peer-cache", default=str(ROOT / "target" / "ets_sbs" / "statsforecast.jsonl"))
    ap.add_argument("--out", default=str(ROOT / "target" / "ets_sbs" / "rows.jsonl"))
    ap.add_argument("--peer-only", action="store_true", help="only fill the statsforecast cache")
    ap.add_argument("--time", type=int, default=40, help="time both sides afresh, one after the other, on the first N series (0: skip)")
    ap.add_argument("--reverse", action="store_true", help="fill the cache from the last series backwards")
    args = ap.parse_args()
    ensure_venv("statsforecast-venv", ["statsforecast==2.1.1", "numpy"], build_aiops=False)
    import warnings

    warnings.filterwarnings("ignore")
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    m4 = Path(args.m4)
    train, test = load(m4)
    cache = Path(args.peer_cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    sf = peer(train, test, args.folds, cache, args.reverse)
    if args.peer_only:
        return
    t0 = time.perf_counter()
    us = ours(Path(args.aiops_bin), m4 / "Hourly-train.csv", args.folds)
    wall = time.perf_counter() - t0
    actual = {}
    for sid in train:
        for fold, hist, act in origins(train[sid], test[sid], args.folds):
            actual[(sid, fold)] = (hist, act)
    rows = []
    agg = {}
    for key, (hist, act) in actual.items():
        a, b = us[key], sf[key]
        for side, r in (("aiops", a), ("statsforecast", b)):
            r["mase"] = mase(hist, act, r["forecast"][:H])
            r["smape"] = smape(act, r["forecast"][:H])
            g = agg.setdefault((side, "test" if key[1] == 0 else "folds"), [0, 0.0, 0.0, 0.0])
            g[0] += 1
            g[1] += r["mase"]
            g[2] += r["smape"]
            g[3] += r["micros"] / 1e6
        rows.append({"id": key[0], "fold": key[1], "aiops": {k: v for k, v in a.items() if k != "forecast"}, "statsforecast": {k: v for k, v in b.items() if k != "forecast"}})
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"M4 hourly, {len(train)} series, origins: test part + {args.folds} folds of the training parts, h={H}, m={M}, one core")
    print(f"{'side':<14} {'part':<6} {'fits':>5} {'MASE':>7} {'sMAPE':>7} {'s/fit':>9}")
    for (side, part), (n, ms, ss, secs) in sorted(agg.items(), key=lambda kv: (kv[0][1] != "test", kv[0][0])):
        print(f"{side:<14} {part:<6} {n:>5} {ms / n:7.3f} {ss / n:7.3f} {secs / n:9.4f}")
    for part in ("test", "folds"):
        sa = sum(r["micros"] for k, r in us.items() if (k[1] == 0) == (part == "test") and k in actual)
        sb = sum(r["micros"] for k, r in sf.items() if (k[1] == 0) == (part == "test") and k in actual)
        print(f"speed on {part}: statsforecast / aiops = {sb / sa:.1f}x (fit + forecast, one core)")
    same = sum(form(r["aiops"]) == form(r["statsforecast"]) for r in rows)
    higher = sum(r["aiops"]["loglik"] > r["statsforecast"]["loglik"] + 1e-6 for r in rows)
    print(f"same form: {same}/{len(rows)}; aiops' log-likelihood higher on {higher}/{len(rows)}")
    from collections import Counter

    for side in ("aiops", "statsforecast"):
        c = Counter(form(r[side]) for r in rows)
        print(f"{side} forms: " + ", ".join(f"{k} {v}" for k, v in c.most_common()))
    print(f"aiops wall for all fits (dump, incl. start-up): {wall:.1f} s")
    if args.time:
        timing(train, Path(args.aiops_bin), args.time)


def timing(train, bin_: Path, n_series: int) -> None:
    """Fit + 48-step forecast on the first n_series whole training parts, both sides timed
    in the same run on the same core (statsforecast first, its kernels compiled before)."""
    import tempfile

    import numpy as np
    from statsforecast.models import AutoETS

    ids = list(train)[:n_series]
    AutoETS(season_length=M).fit(np.asarray(train[ids[0]], dtype=float))
    t0 = time.perf_counter()
    for sid in ids:
        AutoETS(season_length=M).fit(np.asarray(train[sid], dtype=float)).predict(h=H)
    sf = (time.perf_counter() - t0) / len(ids)
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("V1\n" + "".join(sid + "," + ",".join(repr(v) for v in train[sid]) + "\n" for sid in ids))
    out = subprocess.run([str(bin_), f.name, str(H), str(M), "0"], check=True, capture_output=True, text=True).stdout
    os.unlink(f.name)
    ours_s = sum(json.loads(line)["micros"] for line in out.splitlines()) / 1e6 / len(ids)
    print(
        f"speed, {len(ids)} series, one core, same run: statsforecast {sf * 1000:.1f} ms/series,"
        f" aiops {ours_s * 1000:.2f} ms/series: {sf / ours_s:.1f}x"
    )


if __name__ == "__main__":
    main()
