#!/usr/bin/env python3
"""Compares two folders written by scripts/golden.sh (before and after a change).

Every number (and every other leaf) of each JSON output before must still be present after,
with the same value: at the same path, or at the path RENAMES gives. Keys added after are
listed as shape changes, not failures. Text and CSV outputs are compared line by line and
listed when they differ (tables may change in format; their numbers are read by eye).

Usage: scripts/golden-compare.py BEFORE AFTER     (exit 1 when a JSON value is lost or changed)
"""
import json
import os
import sys

# Old path -> new path, for values that moved when a command started printing a library
# struct. Paths are tuples of keys / indices.
RENAMES = {}


def leaves(v, path=()):
    if isinstance(v, dict):
        for k, x in v.items():
            yield from leaves(x, path + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from leaves(x, path + (i,))
    else:
        yield path, v


def get(v, path):
    for k in path:
        if isinstance(v, dict) and k in v:
            v = v[k]
        elif isinstance(v, list) and isinstance(k, int) and k < len(v):
            v = v[k]
        else:
            raise KeyError(path)
    return v


def show(path):
    return ".".join(str(k) for k in path) or "."


def main(before, after):
    failures, changes = [], []
    for name in sorted(os.listdir(before)):
        a, b = os.path.join(before, name), os.path.join(after, name)
        if not os.path.exists(b):
            failures.append(f"{name}: missing after")
            continue
        if name.endswith(".json"):
            old, new = json.load(open(a)), json.load(open(b))
            old_paths = set()
            for path, value in leaves(old):
                old_paths.add(path)
                target = RENAMES.get((name, path), path)
                try:
                    got = get(new, target)
                except KeyError:
                    failures.append(f"{name}: {show(path)} = {value!r} is gone")
                    continue
                if got != value or type(got) is not type(value) and not (
                    isinstance(got, (int, float)) and isinstance(value, (int, float))
                ):
                    failures.append(f"{name}: {show(path)} was {value!r}, now {got!r}")
            # Added keys, with list indices and map keys under an added branch folded.
            added = sorted({
                ".".join("[]" if isinstance(k, int) else k for k in p)
                for p, _ in leaves(new) if p not in old_paths
            })
            if added:
                changes.append(f"{name}: added {len(added)} kinds of key: {', '.join(added[:8])}"
                               + (f" ... (+{len(added) - 8} more)" if len(added) > 8 else ""))
        else:
            if open(a, "rb").read() != open(b, "rb").read():
                changes.append(f"{name}: text differs (format)")
    for name in sorted(set(os.listdir(after)) - set(os.listdir(before))):
        changes.append(f"{name}: new file")
    for c in changes:
        print("change:", c)
    for f in failures:
        print("FAIL:", f)
    print(f"{len(failures)} lost or changed values, {len(changes)} shape/format changes")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
