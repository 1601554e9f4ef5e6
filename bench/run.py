"""`make bench`: every benchmark in the project, measured side by side in one run, as one table.
Exits non-zero when any target is missed."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import chat, gallery, generations  # noqa: E402

# Chat first: it runs the studio only in child processes, so the others' in-process setup can't touch it.
BENCHMARKS = [("chat", chat.run), ("generations", generations.run), ("gallery", gallery.run)]


def main() -> int:
    rows: list[dict[str, object]] = []
    for _, run in BENCHMARKS:
        rows.extend(run())
    width = max(len(str(r["name"])) for r in rows)
    print()
    print(f"{'benchmark'.ljust(width)}  {'measured':>18}  {'target':<28}  {'ratio':>6}  result")
    for r in rows:
        ok = "ok" if r["ok"] else "MISSED"
        print(f"{str(r['name']).ljust(width)}  {str(r['value']):>18}  {str(r['target']):<28}  {r['ratio']:>6.2f}  {ok}")
    missed = [r for r in rows if not r["ok"]]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
