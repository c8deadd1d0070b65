"""Wall time of ``bw-conformance run`` on the embedded simulator beside plain ``st run``.

Both run against the same simulator build with the same example budget, in the same process tree
and the same run, so the ratio is meaningful on any machine.  ``st run`` is the reference: it is
schemathesis over the same contract with its default checks and nothing else (no BXML, no flows).

    python bench/run.py [--max-examples N] [--seed S] [--rows full,api,workers]

Rows: the full run, the api area alone (``-m api``, the figure to hold beside ``st run``) and the
full run with ``--workers 2``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from conformance.resources import spec_path
from conformance.settings import SIMULATOR_ACCOUNT_ID, SIMULATOR_PASSWORD, SIMULATOR_USERNAME
from conformance.simulator import Simulator

BIN = Path(sys.executable).parent


def _timed(argv: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    completed = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started, completed.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=1, help="the same cases for every row")
    parser.add_argument("--rows", default="full,api,workers", help="which runs beside st run")
    args = parser.parse_args()
    rows = set(args.rows.split(","))
    budget = ["--max-examples", str(args.max_examples), "--seed", str(args.seed)]
    run = [str(BIN / "bw-conformance"), "run", *budget]
    measured: list[tuple[str, float, int]] = []
    if "full" in rows:
        measured.append(("bw-conformance run (api + bxml + flows)", *_timed(run)))
    if "api" in rows:
        measured.append(("bw-conformance run -m api", *_timed([*run, "-m", "api"])))
    if "workers" in rows:
        measured.append(("bw-conformance run --workers 2", *_timed([*run, "--workers", "2"])))
    with Simulator() as sim:
        st_time, st_code = _timed(
            [
                str(BIN / "st"),
                "run",
                str(spec_path()),
                "--url",
                sim.base_url,
                "--auth",
                f"{SIMULATOR_USERNAME}:{SIMULATOR_PASSWORD}",
                "--max-examples",
                str(args.max_examples),
                "--seed",
                str(args.seed),
                "--no-color",
            ]
        )
    print(f"account {SIMULATOR_ACCOUNT_ID}, max examples {args.max_examples}, seed {args.seed}")
    for label, seconds, code in measured:
        print(f"{label:<42} {seconds:8.1f} s  (exit {code})  {seconds / st_time:5.2f}x st run")
    print(f"{'st run (api only, reference)':<42} {st_time:8.1f} s  (exit {st_code})")


if __name__ == "__main__":
    main()
