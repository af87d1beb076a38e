"""Start-up time of the `reconwb` command: what every cron line and script pays before any work.

Prints the median (and min/max) wall time of N runs (default 10, `--runs`) of `reconwb --help`,
`reconwb connections list --json` and `reconwb jobs history --json` on a fresh workspace, and the load average
beside them (the machine's other work shows in these figures). Target: under 0.3 s each. `python -X importtime
-m reconwb connections list` shows where the time goes when it regresses.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (["--help"], ["connections", "list", "--json"], ["jobs", "history", "--json"])


def reconwb_command() -> list[str]:
    """The installed console script next to this interpreter (what a user runs), else `python -m reconwb`."""
    script = Path(sys.executable).with_name("reconwb")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconwb"]


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    base = reconwb_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONWB_")}
    with tempfile.TemporaryDirectory(prefix="reconwb-startup-") as tmp:
        root = Path(tmp)
        subprocess.run([*base, "init", "--json"], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
        for command in COMMANDS:
            timed([*base, *command], root, env)  # warm the OS file cache once
            runs = [timed([*base, *command], root, env) for _ in range(args.runs)]
            print(f"reconwb {' '.join(command):<28} median {statistics.median(runs):.3f} s"
                  f"  (min {min(runs):.3f}, max {max(runs):.3f}, {args.runs} runs)  load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
