"""django-q2 tasks of the batches: the sweeper that asks again whether a batch has ended."""

from __future__ import annotations

from kiestudio.batches.webhooks import batch_webhooks_sweep


def batch_sweep_task() -> int:
    """Scheduled every minute: queue "batch.finished" where the check after a row's end was lost."""
    return batch_webhooks_sweep()
