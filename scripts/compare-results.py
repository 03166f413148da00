#!/usr/bin/env python3
"""Compare the numbers of two pipeline result folders (e.g. the demo before and after a refactor).

Every JSON record found under both folders (matched by the path relative to each folder)
is walked; numbers must agree within a relative tolerance, strings and booleans exactly.
Keys that legitimately differ between runs (wall-clock times, absolute paths, versions)
are skipped.

    scripts/compare-results.py OLD_RESULTS NEW_RESULTS [--rtol 1e-9] [--only report.json]

Exit 0 when every shared record agrees, 1 otherwise; records present in one folder only
are listed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

# Run-dependent: wall-clock times and the version that wrote a record. Strings holding a
# path ('/') are skipped too: they name where a run happened, not what it found.
SKIPPED_KEYS = {"elapsed_s", "timings_s", "t_s", "calmodel_version"}


def _leaves(value, prefix=""):
    if isinstance(value, dict):
        for key, sub in value.items():
            if key in SKIPPED_KEYS:
                continue
            yield from _leaves(sub, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _leaves(sub, f"{prefix}[{i}]")
    elif not (isinstance(value, str) and "/" in value):
        yield prefix, value


def _same(a, b, rtol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) \
            or not isinstance(b, (int, float)):
        return a == b
    if math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= rtol * max(abs(a), abs(b)) or a == b


def compare(old: Path, new: Path, rtol: float, only: str | None) -> int:
    pattern = only or "*.json"
    olds = {p.relative_to(old): p for p in old.rglob(pattern) if "pipeline_info" not in p.parts}
    news = {p.relative_to(new): p for p in new.rglob(pattern) if "pipeline_info" not in p.parts}
    failures = 0
    for rel in sorted(set(olds) | set(news)):
        if rel not in olds or rel not in news:
            print(f"only in {'old' if rel in olds else 'new'}: {rel}")
            continue
        a = dict(_leaves(json.loads(olds[rel].read_text())))
        b = dict(_leaves(json.loads(news[rel].read_text())))
        diffs = [k for k in sorted(set(a) | set(b)) if k not in a or k not in b or not _same(a[k], b[k], rtol)]
        status = "same" if not diffs else f"{len(diffs)} difference(s)"
        print(f"{rel}: {len(a)} values, {status}")
        for key in diffs[:20]:
            print(f"    {key}: {a.get(key, '<absent>')!r} -> {b.get(key, '<absent>')!r}")
        failures += bool(diffs)
    print(f"{failures} record(s) differ")
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rtol", type=float, default=1e-9)
    parser.add_argument("--only", help="file name pattern, e.g. report.json")
    args = parser.parse_args()
    sys.exit(compare(args.old, args.new, args.rtol, args.only))


if __name__ == "__main__":
    main()
