"""What ``run --report html,junit,ndjson,har`` costs: the time to write the reports beside the run's
own time (issue 13's aim: under 5 %), and the size of each file (aim for the HTML: under 2 MB).

The run is a full ``run_suites`` on the embedded simulator in this process; the report writer is
timed by wrapping :func:`conformance.reports.write_reports` (``running`` imports it when the run
ends), so both figures come from the same run.

    python bench/reports.py [--max-examples N] [--seed N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import conformance.reports as reports_module
from conformance.running import run_suites
from conformance.settings import load_settings

FORMATS = ("html", "junit", "ndjson", "har")
HTML_AIM_BYTES = 2 * 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    writing: list[float] = []
    original = reports_module.write_reports

    def timed_write(*call: Any, **options: Any) -> list[Path]:
        started = time.perf_counter()
        try:
            return original(*call, **options)
        finally:
            writing.append(time.perf_counter() - started)

    reports_module.write_reports = timed_write
    settings = load_settings({"max_examples": args.max_examples, "seed": args.seed}, environ={})
    with tempfile.TemporaryDirectory(prefix="bw-bench-reports-") as directory:
        started = time.perf_counter()
        code, outcomes = run_suites(settings, reports=FORMATS, report_dir=directory)
        run_seconds = time.perf_counter() - started
        sizes = {path.name: path.stat().st_size for path in Path(directory).iterdir() if path.is_file()}
    reports_module.write_reports = original

    if not writing:
        raise SystemExit("the run wrote no reports: nothing to measure")
    write_seconds = sum(writing)
    share = write_seconds / run_seconds
    passed = sum(area["passed"] for area in outcomes.counts.values())
    print(f"run exit code {code}: {passed} passed, {outcomes.failed} failed (seed {args.seed})")
    print(f"full run with reports:  {run_seconds:7.1f} s   (reference: the run itself)")
    print(f"writing the 4 reports:  {write_seconds:7.2f} s   = {share:.1%} of the run (aim < 5%)")
    for name, size in sorted(sizes.items()):
        note = "   (aim < 2 MiB)" if name.endswith(".html") else ""
        print(f"  {name:<16} {size / 2**20:7.2f} MiB{note}")
    html = [size for name, size in sizes.items() if name.endswith(".html")]
    print("verification: every format written:", len(sizes) == len(FORMATS))
    print("verification: html within aim:", bool(html) and html[0] < HTML_AIM_BYTES)


if __name__ == "__main__":
    main()
