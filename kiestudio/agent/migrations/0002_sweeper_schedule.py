from __future__ import annotations

from django.db import migrations


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="agent-sweep",
        defaults={"func": "kiestudio.agent.tasks.agent_sweep_task", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="agent-sweep").delete()


class Migration(migrations.Migration):
    dependencies = [("agent", "0001_tool_calls_and_plans"), ("django_q", "0018_task_success_index")]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
