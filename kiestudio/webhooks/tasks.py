"""django-q2 tasks: nudges that take ids. The delivery ledger says what is due; these only hurry it along."""

from __future__ import annotations

from kiestudio.webhooks import services


def webhook_deliver_task(delivery_id: int) -> str:
    return services.webhook_deliver(delivery_id=delivery_id)


def webhook_sweep_task() -> int:
    """Scheduled every minute: re-drive due deliveries and those a dead worker left."""
    return services.webhook_sweep()
