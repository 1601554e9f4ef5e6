"""The ledger moves to the ``usage`` app. Only Django's record of which app owns the model changes: the table
(``workspaces_usageentry``), its rows and its indexes stay where they are, and ``usage.0001`` takes them over."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("workspaces", "0002_team_keys_budgets_invitations_ledger_audit"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="usageentry", name="usage_by_time"),
                migrations.RemoveIndex(model_name="usageentry", name="usage_by_member"),
                migrations.DeleteModel(name="UsageEntry"),
            ],
            database_operations=[],
        ),
    ]
