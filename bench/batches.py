"""Benchmark: a 200-row batch through the real pipeline, in separate processes against the simulator, with the
rate limit compressed as in the generation bench (20 creates per 2 s window). Every row is bought by the batch
service (each checked by its model's form, then created in one transaction); the report gives the creates (exactly
one per row) and the time from the batch's purchase to its last result against the rate-limit bound (200 creates
at 20 per window), with the workers already running, as they are for a creator who presses Run (``BENCH_WARM=0``
starts them after the purchase instead, like the generation bench)."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import generations  # noqa: E402
from bench.child import print_rows, rows_from_child  # noqa: E402

ROWS = int(os.environ.get("BENCH_BATCH_ROWS", "200"))


def _batch(workspace, user, count: int) -> None:
    from kiestudio.batches.models import Batch
    from kiestudio.batches.rows import rows_from_list
    from kiestudio.batches.services import batch_create, batch_preview
    from kiestudio.workspaces.models import Membership

    template = "A paper boat no. {n}, soft light"
    rows = rows_from_list("\n".join(str(n) for n in range(1, count + 1)), template=template)
    preview = batch_preview(workspace=workspace, rows=rows, model_keys=["google/nano-banana"])
    assert len(preview.runnable) == count, preview.refused[:3]
    batch_create(
        workspace=workspace,
        membership=Membership.objects.get(workspace=workspace, user=user),
        preview=preview,
        name="Bench",
        source=Batch.Source.LIST,
        template=template,
        model_keys=["google/nano-banana"],
        request_key=uuid.uuid4(),
    )


def run() -> list[dict[str, object]]:
    """In a child process, like the agent bench: Django is set up against the bench's own database, which the
    generation bench in the same process would already have set up against its own."""
    return rows_from_child(__file__, "BENCH_BATCH_CHILD", "batch")


if __name__ == "__main__":
    if os.environ.get("BENCH_BATCH_CHILD"):
        print_rows(generations.measure("batch", ROWS, _batch, warm_workers=os.environ.get("BENCH_WARM", "1") == "1"))
    else:
        for row in run():
            print(row)
