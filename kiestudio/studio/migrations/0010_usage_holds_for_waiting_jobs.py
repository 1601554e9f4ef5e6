"""Budgets now read only the usage app's ledger: hold the estimate of every job still waiting to be sent, as
the budget check counted them from the generations until now."""

from django.db import migrations

WAITING = ("queued", "submitting")


def hold_waiting(apps, schema_editor):
    Generation = apps.get_model("studio", "Generation")
    Hold = apps.get_model("usage", "Hold")
    waiting = Generation.objects.filter(status__in=WAITING).values_list(
        "pk", "workspace_id", "created_by_id", "credits_estimated", "created_at"
    )
    Hold.objects.bulk_create(
        [
            Hold(source=f"generation:{pk}", workspace_id=ws, user_id=user, credits=credits, created_at=at)
            for pk, ws, user, credits, at in waiting.iterator()
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0009_request_key_per_workspace"),
        ("usage", "0001_initial"),
    ]

    operations = [migrations.RunPython(hold_waiting, migrations.RunPython.noop)]
