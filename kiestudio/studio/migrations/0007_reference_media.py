"""Reference images become references of any kind (image, video, audio). The table is renamed, so every existing
reference (an image) keeps its row, its file and its Kie upload."""

import django.db.models.deletion
from django.db import migrations, models

import kiestudio.uploads.models


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0006_callback_receipt_result"),
        ("workspaces", "0002_team_keys_budgets_invitations_ledger_audit"),
    ]

    operations = [
        migrations.RenameModel("ReferenceImage", "Reference"),
        migrations.AlterField(
            model_name="reference",
            name="workspace",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="references", to="workspaces.workspace"
            ),
        ),
        migrations.AddField(
            model_name="reference",
            name="kind",
            field=models.CharField(
                choices=[("image", "Image"), ("video", "Video"), ("audio", "Audio")], default="image", max_length=10
            ),
        ),
        migrations.AddField(
            model_name="reference",
            name="poster",
            field=models.FileField(blank=True, max_length=300, upload_to=kiestudio.uploads.models.reference_path),
        ),
        migrations.AddField(
            model_name="reference",
            name="label",
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.AddField(
            model_name="reference",
            name="duration",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="reference",
            name="source_asset",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="references",
                to="studio.asset",
            ),
        ),
        migrations.AlterField(
            model_name="reference",
            name="size",
            field=models.PositiveBigIntegerField(),
        ),
        migrations.AlterField(
            model_name="reference",
            name="width",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="reference",
            name="height",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="reference",
            index=models.Index(fields=["workspace", "kind", "-created_at"], name="reference_by_kind"),
        ),
    ]
