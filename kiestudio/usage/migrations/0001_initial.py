"""The usage app: it takes over the ledger table from workspaces (state only) and adds holds."""

from decimal import Decimal

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("workspaces", "0003_usage_ledger_moves_to_usage"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="UsageEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("kind", models.CharField(choices=[("generation", "Generation"), ("chat", "Chat")], max_length=12)),
                        ("model_key", models.CharField(max_length=120)),
                        ("credits", models.DecimalField(decimal_places=4, default=Decimal("0"), max_digits=12)),
                        ("source", models.CharField(max_length=40, unique=True)),
                        ("estimated", models.BooleanField(default=False)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "user",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "workspace",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="usage",
                                to="workspaces.workspace",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "workspaces_usageentry",
                        "ordering": ["-created_at", "-pk"],
                        "indexes": [
                            models.Index(fields=["workspace", "created_at"], name="usage_by_time"),
                            models.Index(fields=["workspace", "user", "created_at"], name="usage_by_member"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.CreateModel(
            name="Hold",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("credits", models.DecimalField(decimal_places=4, default=Decimal("0"), max_digits=12)),
                ("source", models.CharField(max_length=40, unique=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="holds", to="workspaces.workspace"
                    ),
                ),
            ],
            options={"indexes": [models.Index(fields=["workspace", "created_at"], name="hold_by_time")]},
        ),
    ]
