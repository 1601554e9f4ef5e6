"""Favourites carry their generation's created_at, so a member's favourites are read in the gallery's order
from an index of their own (see ``Favorite.generation_created_at``)."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill(apps, schema_editor):
    Favorite = apps.get_model("gallery", "Favorite")
    Generation = apps.get_model("studio", "Generation")
    created = Generation.objects.filter(pk=OuterRef("generation_id")).values("created_at")[:1]
    Favorite.objects.filter(generation_created_at__isnull=True).update(generation_created_at=Subquery(created))


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0003_trash_purge_schedule"),
        ("studio", "0011_references_move_to_uploads"),
    ]

    operations = [
        migrations.AddField(
            model_name="favorite",
            name="generation_created_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="favorite",
            name="generation_created_at",
            field=models.DateTimeField(editable=False),
        ),
        migrations.AddIndex(
            model_name="favorite",
            index=models.Index(
                fields=["workspace", "user", "-generation_created_at", "-generation"], name="favorite_feed"
            ),
        ),
    ]
