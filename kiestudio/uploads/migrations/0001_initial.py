"""The uploads app takes over the references table from studio (state only: the table stays as it is)."""

import django.db.models.deletion
import kiestudio.uploads.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('studio', '0011_references_move_to_uploads'),
        ('workspaces', '0003_usage_ledger_moves_to_usage'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Reference',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('image', 'Image'), ('video', 'Video'), ('audio', 'Audio')], default='image', max_length=10)),
                        ('file', models.FileField(max_length=300, upload_to=kiestudio.uploads.models.reference_path)),
                        ('poster', models.FileField(blank=True, max_length=300, upload_to=kiestudio.uploads.models.reference_path)),
                        ('label', models.CharField(blank=True, max_length=120)),
                        ('mime_type', models.CharField(max_length=40)),
                        ('size', models.PositiveBigIntegerField()),
                        ('width', models.PositiveIntegerField(blank=True, null=True)),
                        ('height', models.PositiveIntegerField(blank=True, null=True)),
                        ('duration', models.FloatField(blank=True, null=True)),
                        ('kie_url', models.TextField(blank=True)),
                        ('kie_uploaded_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('created_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('source_asset', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='references', to='studio.asset')),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='references', to='workspaces.workspace')),
                    ],
                    options={
                        'db_table': 'studio_reference',
                        'ordering': ['-created_at', '-pk'],
                        'indexes': [models.Index(fields=['workspace', 'kind', '-created_at'], name='reference_by_kind')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
