"""Benchmark: the dashboard bundle's size and the time to its first chart.

    .venv/bin/python benchmarks/dashboard_page.py

Prints the shipped bundle's sizes (raw, gzip, brotli) and the time from the script's
start to the first chart drawn, as measured in headless Chromium by the browser tests
(``tests/stats_dashboard/ui``, which write ``.stack/dashboard-timing.json``): run
``./run-tests.sh tests/stats_dashboard/ui`` first.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import brotli

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "invenio_stats_dashboard" / "ui" / "static" / "stats_dashboard"
TIMING = ROOT / ".stack" / "dashboard-timing.json"


def main() -> None:
    total = [0, 0, 0]
    for path in sorted(BUNDLE.iterdir()):
        data = path.read_bytes()
        sizes = (len(data), len(gzip.compress(data, 9)), len(brotli.compress(data, quality=11)))
        total = [a + b for a, b in zip(total, sizes, strict=True)]
        print(f"{path.name:<24} {sizes[0]:>8,} B   gzip {sizes[1]:>7,} B   br {sizes[2]:>7,} B")
    print(f"{'bundle':<24} {total[0]:>8,} B   gzip {total[1]:>7,} B   br {total[2]:>7,} B")
    if TIMING.exists():
        timing = json.loads(TIMING.read_text())
        for page, ms in timing["first_chart_ms"].items():
            measured = timing["measured"]
            print(f"first chart, {page} page: {ms:.0f} ms (from the script's start; {measured})")
    else:
        print("no timing yet: run ./run-tests.sh tests/stats_dashboard/ui")


if __name__ == "__main__":
    main()
