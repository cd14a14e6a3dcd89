"""Start-up cost of the `nl2sql` command, as CPU ratios to the imports it cannot avoid.

    python benchmarks/startup.py [--repeat 7]

Each command runs in a fresh process `--repeat` times; the least CPU (user + system) of the
runs is kept, which is the figure least disturbed by whatever else the machine is doing. The
offline `ask` runs on the sample database in a temporary data folder, created first.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile

QUESTION = "how many orders were delivered last month?"


def cpu_ms(command: list[str], repeat: int, env: dict[str, str]) -> float:
    best = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = min(best, used * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    nl2sql = shutil.which("nl2sql") or sys.exit("nl2sql is not on PATH (pip install -e .)")
    folder = tempfile.mkdtemp(prefix="nl2sql-startup-")
    env = os.environ | {"XDG_DATA_HOME": folder, "NL2SQL_MODEL": "offline"}
    subprocess.run([nl2sql, "db", "init"], env=env, capture_output=True, check=True)
    python = sys.executable
    rows = [
        ("nl2sql --help", [nl2sql, "--help"], "import typer", [python, "-c", "import typer"]),
        (
            "nl2sql ask (offline)",
            [nl2sql, "ask", QUESTION],
            "import openai, sqlalchemy, pydantic",
            [python, "-c", "import openai, sqlalchemy, pydantic"],
        ),
    ]
    print(f"{'command':<24}{'CPU ms':>8}   {'floor':<38}{'CPU ms':>8}{'ratio':>8}")
    for label, command, floor_label, floor in rows:
        spent, base = cpu_ms(command, args.repeat, env), cpu_ms(floor, args.repeat, env)
        print(f"{label:<24}{spent:>8.0f}   {floor_label:<38}{base:>8.0f}{spent / base:>7.2f}x")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
