"""`make bench`: every benchmark in the project, measured side by side in one run, as one table.
Exits non-zero when any target is missed. ``BENCH_ONLY=relay`` (or ``chat,relay``, …) runs only those."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import agent, batches, chat, gallery, generations, lighthouse, relay  # noqa: E402

# Chat and relay first: they run the studio only in child processes, so the others' in-process setup can't touch it.
BENCHMARKS = [
    ("chat", chat.run),
    ("relay", relay.run),
    ("generations", generations.run),
    ("batch", batches.run),
    ("agent", agent.run),
    ("gallery", gallery.run),
    ("lighthouse", lighthouse.run),
]


def main() -> int:
    only = {name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()}
    unknown = only - {name for name, _ in BENCHMARKS}
    if unknown:
        print(f"BENCH_ONLY: no benchmark named {', '.join(sorted(unknown))}")
        return 2
    rows: list[dict[str, object]] = []
    for name, run in BENCHMARKS:
        if not only or name in only:
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
