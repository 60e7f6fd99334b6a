"""Side by side: drain3's templates scored by the same scorer as aiops' miner on loghub.

    python3 benches/loghub_peer.py [--data ../shared/data/loghub] [--aiops target/release/aiops]
                                   [--untuned] [--out DIR]

Creates a virtualenv under target/drain3-venv with drain3 0.9.11 (PyPI), then parses each
system of the data folder's settings.json with drain3: the header removed by the system's
`log_format` (as logparser does), the settings' masking regexes as masking instructions
(each written `<*>`), the settings' similarity threshold `st` and `depth` (with --untuned:
no masking regexes, drain3's defaults 0.4 and 4). Every line gets the final template of its
cluster, written to OUT/<System>/<System>_2k.log_structured.csv (LineId, EventId,
EventTemplate), and `aiops eval loghub --predicted OUT` scores them: grouping accuracy, exact
template accuracy and template accuracy after loghub-2.0's corrections. Then the same command
without --predicted scores aiops' own miner on the same settings, for the table beside it.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import tempfile
from pathlib import Path

from peer_env import ROOT, ensure_venv, header_regex


def parse_system(log: Path, settings: dict, untuned: bool) -> list[tuple[str, str]]:
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    cfg = TemplateMinerConfig()
    cfg.profiling_enabled = False
    if not untuned:
        cfg.masking_instructions = [MaskingInstruction(r, "*") for r in settings.get("regex", [])]
        cfg.drain_sim_th = settings.get("st", cfg.drain_sim_th)
        cfg.drain_depth = settings.get("depth", cfg.drain_depth)
    else:
        cfg.masking_instructions = []
    miner = TemplateMiner(config=cfg)
    head = header_regex(settings["log_format"])
    ids = []
    for line in log.read_text(errors="replace").splitlines():
        m = head.match(line.strip())
        content = m.group("Content") if m else line.strip()
        ids.append(miner.add_log_message(content)["cluster_id"])
    templates = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return [(f"E{i}", templates[i]) for i in ids]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "loghub")
    ap.add_argument("--aiops", type=Path, default=ROOT / "target" / "release" / "aiops")
    ap.add_argument("--untuned", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--no-build", action="store_true", help="reuse the virtualenv as it is")
    args = ap.parse_args()
    settings = json.loads((args.data / "settings.json").read_text())
    out = args.out or Path(tempfile.mkdtemp(prefix="drain3-loghub-"))
    for system, s in sorted(settings.items()):
        if system.startswith("_") or not (args.data / system).is_dir():
            continue
        rows = parse_system(args.data / system / f"{system}_2k.log", s, args.untuned)
        (out / system).mkdir(parents=True, exist_ok=True)
        with open(out / system / f"{system}_2k.log_structured.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["LineId", "EventId", "EventTemplate"])
            for i, (eid, tpl) in enumerate(rows, 1):
                w.writerow([i, eid, tpl])
    extra = ["--untuned"] if args.untuned else []
    print("drain3 0.9.11, scored by aiops eval loghub --predicted", out)
    subprocess.check_call([str(args.aiops), "eval", "loghub", "--data", str(args.data), "--predicted", str(out)])
    print("aiops")
    subprocess.check_call([str(args.aiops), "eval", "loghub", "--data", str(args.data), *extra])


if __name__ == "__main__":
    ensure_venv("drain3-venv", ["drain3==0.9.11"], build_aiops=False)
    main()
