"""Side by side: aiops' template miner and drain3, on the same lines in the same process.

    python3 benches/drain3_peer.py [--data ../shared/data/loghub] [--lines 200000] [--repeat 3]

Creates a virtualenv under target/drain3-venv with drain3 0.9.11 (PyPI) and maturin, builds
aiops into it in release mode, then parses loghub's HDFS 2k sample repeated to --lines lines
with the HDFS masks of the Drain benchmark (`blk_-?\\d+` and `(\\d+\\.){3}\\d+(:\\d+)?`),
similarity threshold 0.5 and depth 4, on one core:

- drain3: `TemplateMiner.add_log_message` on each message (header removed beforehand, as
  drain3 has no header parsing), masking instructions for the two regexes;
- aiops: `TemplateMiner.learn_many` on the same messages (the two regexes as masks, plus its
  built-in masks), the list conversion included; then `learn_file` on the raw lines with the
  HDFS header format (file reading and header parsing included), sequential and parallel.

Each figure is the best of --repeat runs with a fresh miner; imports and data loading are
excluded. Prints lines per second, the speed-up and the number of templates found.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from peer_env import ROOT, ensure_venv, header_regex

HDFS_FORMAT = "<Date> <Time> <Pid> <Level> <Component>: <Content>"
MASKS = [r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"]


def best(repeat: int, run) -> tuple[float, int]:
    times = []
    templates = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        templates = run()
        times.append(time.perf_counter() - t0)
    return min(times), templates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "loghub")
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-build", action="store_true", help="reuse the virtualenv as it is")
    args = ap.parse_args()

    from drain3 import TemplateMiner as Drain3Miner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    import aiops

    base = (args.data / "HDFS" / "HDFS_2k.log").read_text().splitlines()
    raw = [base[i % len(base)] for i in range(args.lines)]
    head = header_regex(HDFS_FORMAT)
    contents = [m.group("Content") if (m := head.match(line)) else line for line in raw]
    n = len(contents)

    def run_drain3() -> int:
        cfg = TemplateMinerConfig()
        cfg.masking_instructions = [MaskingInstruction(MASKS[0], "BLK"), MaskingInstruction(MASKS[1], "IP")]
        cfg.drain_sim_th = 0.5
        cfg.drain_depth = 4
        cfg.profiling_enabled = False
        miner = Drain3Miner(config=cfg)
        for line in contents:
            miner.add_log_message(line)
        return len(miner.drain.clusters)

    def run_aiops() -> int:
        miner = aiops.logs.TemplateMiner(masks=MASKS, sim_threshold=0.5, depth=4)
        miner.learn_many(contents)
        return len(miner)

    with tempfile.TemporaryDirectory(dir=ROOT / "target") as tmp:
        raw_path = Path(tmp) / "hdfs.log"
        raw_path.write_text("\n".join(raw) + "\n")

        def run_aiops_file(parallel: bool) -> int:
            miner = aiops.logs.TemplateMiner(log_format=HDFS_FORMAT, masks=MASKS, sim_threshold=0.5, depth=4)
            miner.learn_file(raw_path, parallel=parallel)
            return len(miner)

        d3_s, d3_t = best(args.repeat, run_drain3)
        ai_s, ai_t = best(args.repeat, run_aiops)
        f_s, f_t = best(args.repeat, lambda: run_aiops_file(False))
        p_s, p_t = best(args.repeat, lambda: run_aiops_file(True))

    print(f"HDFS 2k repeated to {n:,} lines, HDFS masks, st 0.5, depth 4 (best of {args.repeat})")
    print(f"{'parser':<44} {'seconds':>8} {'lines/s':>12} {'vs drain3':>10} {'templates':>10}")
    rows = [
        ("drain3 0.9.11 add_log_message (messages)", d3_s, d3_t),
        ("aiops learn_many (messages, 1 core)", ai_s, ai_t),
        ("aiops learn_file (raw lines + header, 1 core)", f_s, f_t),
        (f"aiops learn_file parallel ({os.cpu_count()} cores)", p_s, p_t),
    ]
    for name, secs, templates in rows:
        print(f"{name:<44} {secs:>8.3f} {n / secs:>12,.0f} {d3_s / secs:>9.1f}x {templates:>10}")


if __name__ == "__main__":
    ensure_venv("drain3-venv", ["drain3==0.9.11", "numpy"])
    main()
