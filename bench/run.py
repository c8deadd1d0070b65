"""Wall time of ``bw-conformance run`` on the embedded simulator beside plain ``st run``.

Both run against the same simulator build with the same example budget, in the same process tree
and the same run, so the ratio is meaningful on any machine.  ``st run`` is the reference: it is
schemathesis over the same contract with its default checks and nothing else (no BXML, no flows).

    python bench/run.py [--max-examples N]
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
    args = parser.parse_args()

    run_time, run_code = _timed(
        [str(BIN / "bw-conformance"), "run", "--max-examples", str(args.max_examples)]
    )
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
                "--no-color",
            ]
        )
    print(f"account {SIMULATOR_ACCOUNT_ID}, max examples {args.max_examples}")
    print(f"bw-conformance run (api + bxml + flows): {run_time:8.1f} s  (exit {run_code})")
    print(f"st run (api only, reference):          {st_time:8.1f} s  (exit {st_code})")
    print(f"ratio run / st run:                     {run_time / st_time:8.2f}")


if __name__ == "__main__":
    main()
