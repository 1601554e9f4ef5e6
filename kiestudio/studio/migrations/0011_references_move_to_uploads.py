"""References move to the ``uploads`` app, below studio and chat. Only Django's record of which app owns the
model changes: the table (``studio_reference``), its rows and its index stay, and ``uploads.0001`` takes them over."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0010_usage_holds_for_waiting_jobs"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="reference", name="reference_by_kind"),
                migrations.DeleteModel(name="Reference"),
            ],
            database_operations=[],
        ),
    ]
