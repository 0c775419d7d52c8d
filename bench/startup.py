"""How long the `autovid` command takes to answer before it does any work, and how long the
RenderVideo handler takes to import in a fresh interpreter (its share of a Lambda cold start).

Each command is run several times in a fresh interpreter; the table shows the median wall time and
its ratio to a bare interpreter start measured in the same run. Usage:

    .venv/bin/python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HANDLER = Path(__file__).resolve().parents[1] / "functions" / "render_video"

COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "autovid --help": [sys.executable, "-m", "autovid_cli", "--help"],
    "autovid render --help": [sys.executable, "-m", "autovid_cli", "render", "--help"],
    "autovid runs --help": [sys.executable, "-m", "autovid_cli", "runs", "--help"],
    "autovid up --help": [sys.executable, "-m", "autovid_cli", "up", "--help"],
    "import the RenderVideo handler (cold)": [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {str(HANDLER)!r}); import app",
    ],
}


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results = {name: median_seconds(command, args.runs) for name, command in COMMANDS.items()}
    baseline = results["python -c pass (baseline)"]
    print(f"| command | median s ({args.runs} runs) | x bare interpreter |")
    print("|---|---|---|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds:.3f} | {seconds / baseline:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
