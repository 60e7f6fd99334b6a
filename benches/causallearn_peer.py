"""Side by side: aiops' PC and causal-learn's PC on PyRCA's linear fixture.

    python3 benches/causallearn_peer.py [--data ../shared/data/pyrca] [--alpha 0.05] [--repeat 3]

Creates a virtualenv under target/causallearn-venv with causal-learn 0.1.4.8 (MIT licence),
then in one invocation:

- runs causal-learn's `pc(data, alpha, indep_test="fisherz", stable=True)` (its defaults
  otherwise: uc_rule 0, uc_priority 2) on data_linear.txt, in-process, best of --repeat;
- runs `target/release/aiops eval causal --json` with the same alpha (build it first with
  `cargo build --release -p aiops-server`), best of --repeat: the fit time it reports (the
  correlation matrix included, like causal-learn's) and the whole process (start, file
  parsing, PC and its Granger reference run);
- scores both graphs against graph.txt with the same definitions as `aiops_eval::causal_discovery`
  (skeleton and arrow precision / recall / F1, SHD to the true DAG and to its CPDAG), computed
  here in Python for both, and checks that they equal the scores the aiops CLI printed.

A bidirected edge of causal-learn (two conflicting v-structures) counts as an edge without
direction.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from peer_env import ROOT, ensure_venv

CLI = ROOT / "target" / "release" / "aiops"


def load(data_dir: Path):
    import numpy as np

    lines = (data_dir / "data_linear.txt").read_text().split("\n")
    names = lines[0].split()
    data = np.array([[float(v) for v in line.split()] for line in lines[1:] if line.strip()])
    edges = []
    for line in (data_dir / "graph.txt").read_text().splitlines():
        if "-->" in line:
            a, b = line.split(". ", 1)[1].split("-->")
            edges.append((names.index(a.strip()), names.index(b.strip())))
    return names, data, edges


def marks_from_causallearn(graph) -> dict[tuple[int, int], str]:
    """causal-learn's endpoint matrix: g[j, i] == 1 and g[i, j] == -1 means i -> j."""
    p = graph.shape[0]
    out = {}
    for i in range(p):
        for j in range(i + 1, p):
            a, b = graph[i, j], graph[j, i]
            if a == 0 and b == 0:
                continue
            if a == -1 and b == 1:
                out[(i, j)] = "->"
            elif a == 1 and b == -1:
                out[(i, j)] = "<-"
            else:  # undirected (-1, -1) or bidirected (1, 1)
                out[(i, j)] = "--"
    return out


def marks_from_edges(edges, names) -> dict[tuple[int, int], str]:
    out = {}
    for a, b, directed in edges:
        i, j = names.index(a), names.index(b)
        if not directed:
            out[(min(i, j), max(i, j))] = "--"
        elif i < j:
            out[(i, j)] = "->"
        else:
            out[(j, i)] = "<-"
    return out


def true_cpdag(edges, p):
    import numpy as np
    from causallearn.utils.DAG2CPDAG import dag2cpdag
    from causallearn.graph.Dag import Dag
    from causallearn.graph.GraphNode import GraphNode

    nodes = [GraphNode(f"X{i + 1}") for i in range(p)]
    dag = Dag(nodes)
    for a, b in edges:
        dag.add_directed_edge(nodes[a], nodes[b])
    return marks_from_causallearn(np.asarray(dag2cpdag(dag).graph))


def score(learned: dict, true_edges, cpdag: dict) -> dict:
    truth = {(min(a, b), max(a, b)): ("->" if a < b else "<-") for a, b in true_edges}
    shared = sum(1 for k in learned if k in truth)
    directed = [k for k, m in learned.items() if m != "--"]
    right = sum(1 for k in directed if truth.get(k) == learned[k])
    ratio = lambda a, b: a / b if b else 0.0
    f1 = lambda p, r: 2 * p * r / (p + r) if p + r > 0 else 0.0
    sp, sr = ratio(shared, len(learned)), ratio(shared, len(truth))
    dp, dr = ratio(right, len(directed)), ratio(right, len(truth))
    shd = lambda ref: sum(1 for k in set(learned) | set(ref) if learned.get(k) != ref.get(k))
    return {
        "learned_edges": len(learned), "learned_directed": len(directed),
        "skeleton_precision": sp, "skeleton_recall": sr, "skeleton_f1": f1(sp, sr),
        "directed_precision": dp, "directed_recall": dr, "directed_f1": f1(dp, dr),
        "shd": shd(truth), "shd_cpdag": shd(cpdag),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "pyrca"))
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ensure_venv("causallearn-venv", ["causal-learn==0.1.4.8"], build_aiops=False)

    import causallearn
    from causallearn.search.ConstraintBased.PC import pc

    data_dir = Path(args.data)
    names, data, true_edges = load(data_dir)
    cpdag = true_cpdag(true_edges, len(names))

    best_cl, cg = float("inf"), None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        cg = pc(data, args.alpha, "fisherz", stable=True, show_progress=False)
        best_cl = min(best_cl, time.perf_counter() - t0)
    cl_scores = score(marks_from_causallearn(cg.G.graph), true_edges, cpdag)

    if not CLI.exists():
        sys.exit(f"{CLI} missing: run `cargo build --release -p aiops-server` first")
    best_fit, best_proc, ours = float("inf"), float("inf"), None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = subprocess.check_output(
            [str(CLI), "eval", "causal", "--data", str(data_dir), "--alpha", str(args.alpha), "--json"]
        )
        best_proc = min(best_proc, time.perf_counter() - t0)
        ours = json.loads(out)
        best_fit = min(best_fit, ours["pc"]["seconds"])
    our_scores = score(marks_from_edges(ours["pc"]["edges"], names), true_edges, cpdag)
    for k, v in our_scores.items():
        printed = ours["pc"]["scores"][k]
        assert abs(printed - v) < 1e-12, f"aiops printed {k}={printed}, recomputed {v}"

    version = getattr(causallearn, "__version__", "0.1.4.8")
    print(f"PC (Fisher z, stable) on {data_dir}: {data.shape[0]} samples x {data.shape[1]} variables, "
          f"{len(true_edges)} true edges, alpha {args.alpha}, best of {args.repeat}")
    cols = ["learned_edges", "learned_directed", "skeleton_precision", "skeleton_recall", "skeleton_f1",
            "directed_precision", "directed_recall", "directed_f1", "shd", "shd_cpdag"]
    heads = ["edges", "dir", "skel P", "skel R", "skel F1", "dir P", "dir R", "dir F1", "SHD", "SHD/CP"]
    print(f"{'':<22}" + "".join(f"{h:>8}" for h in heads) + f"{'seconds':>10}")

    def row(label, s, seconds):
        cells = "".join(f"{s[c]:>8}" if isinstance(s[c], int) else f"{s[c]:>8.3f}" for c in cols)
        print(f"{label:<22}{cells}{seconds:>10.4f}")

    row(f"causal-learn {version}", cl_scores, best_cl)
    row("aiops (fit)", our_scores, best_fit)
    print(f"aiops whole process (start, read 10k rows, PC, Granger reference): {best_proc:.3f} s")
    print(f"speed-up of the fit: {best_cl / best_fit:.0f}x")
    same = marks_from_causallearn(cg.G.graph) == marks_from_edges(ours["pc"]["edges"], names)
    print(f"identical graphs: {same}")


if __name__ == "__main__":
    main()
