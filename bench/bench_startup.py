"""Start-up time of the `reconwb` command: what every cron line and script pays before any work.

Prints the median (and min/max) wall time of N runs (default 10, `--runs`) of `reconwb --help`,
`reconwb connections list --json` and `reconwb jobs history --json` on a fresh workspace, their CPU time, and the
load average beside them (the machine's other work shows in the wall times). `--source DIR` times another source
tree of reconwb (e.g. `git archive main | tar -x -C DIR`) with this interpreter, for a before/after on the same
host. Target: under 0.3 s each. `python -X importtime -m reconwb connections list` shows where the time goes.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run: on a busy host the CPU figure is the steadier."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--source", type=Path, help="time the reconwb source tree in DIR instead")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECONWB_")}
    base = reconwb_command()
    if args.source:
        base = [sys.executable, "-m", "reconwb"]
        env["PYTHONPATH"] = str(args.source.absolute())
    with tempfile.TemporaryDirectory(prefix="reconwb-startup-") as tmp:
        root = Path(tmp)
        subprocess.run([*base, "init", "--json"], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
        for command in COMMANDS:
            timed([*base, *command], root, env)  # warm the OS file cache once
            runs = [timed([*base, *command], root, env) for _ in range(args.runs)]
            walls = [w for w, _ in runs]
            cpu = statistics.median(c for _, c in runs)
            print(f"reconwb {' '.join(command):<28} median {statistics.median(walls):.3f} s"
                  f"  (min {min(walls):.3f}, max {max(walls):.3f}; CPU median {cpu:.3f} s;"
                  f" {args.runs} runs)  load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
