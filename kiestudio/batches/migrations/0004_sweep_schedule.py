from __future__ import annotations

from django.db import migrations


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="batches-sweep",
        defaults={"func": "kiestudio.batches.tasks.batch_sweep_task", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="batches-sweep").delete()


class Migration(migrations.Migration):
    dependencies = [("batches", "0003_judgements"), ("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
