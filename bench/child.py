"""Running one benchmark in a child process: a bench that sets Django up against its own database can't share a
process with another that already set Django up against theirs. The child prints its rows as one ``ROWS`` line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The environment `make bench` started with. The generation bench sets Django up in-process and writes its own
# settings (a throwaway DATABASE_URL among them) into os.environ; a child started after it must not inherit them.
_STARTING_ENV = dict(os.environ)


def rows_from_child(script: str, flag: str, label: str) -> list[dict[str, object]]:
    """Run ``script`` with ``flag=1`` in its environment and return the rows it printed (its other output is
    passed through); a failed child is one missed row."""
    child = subprocess.run(
        [sys.executable, script], cwd=ROOT, env={**_STARTING_ENV, flag: "1"}, capture_output=True, text=True
    )
    rows: list[dict[str, object]] = []
    for line in child.stdout.splitlines():
        if line.startswith("ROWS "):
            rows = json.loads(line[5:])
        else:
            print(line)
    if child.returncode or not rows:
        print(child.stderr[-3000:])
        return [{"name": f"{label}: the benchmark ran", "value": "failed", "target": "ran", "ok": False, "ratio": 1.0}]
    return rows


def print_rows(rows: list[dict[str, object]]) -> None:
    """What a child prints for ``rows_from_child``."""
    print("ROWS " + json.dumps(rows))
