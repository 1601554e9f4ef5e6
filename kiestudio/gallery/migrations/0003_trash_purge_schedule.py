from __future__ import annotations

from django.db import migrations


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="gallery-trash-purge",
        defaults={"func": "kiestudio.gallery.tasks.trash_purge_task", "schedule_type": "H", "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="gallery-trash-purge").delete()


class Migration(migrations.Migration):
    dependencies = [("gallery", "0002_prompt_search"), ("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
