"""Finished items built in the database directly (a real picture file, no Kie job), and shares of them."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from kiestudio.batches.models import Batch, BatchItem
from kiestudio.gallery.models import Collection, CollectionItem
from kiestudio.kie.catalog import get_model
from kiestudio.sharing.services import NewShare, share_create
from kiestudio.studio.models import Asset, Generation, Status
from tests.studio.helpers import workspace_of


def png(colour: str = "teal", size: tuple[int, int] = (64, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def make_item(
    user,
    prompt: str = "A lighthouse at dusk, oil painting",
    *,
    model: str = "google/nano-banana",
    colour: str = "teal",
    workspace=None,
) -> Generation:
    workspace = workspace or workspace_of(user)
    spec = get_model(model)
    generation = Generation.objects.create(
        workspace=workspace,
        created_by=user,
        model_key=spec.key,
        family=spec.family,
        kind=spec.kind,
        output="image",
        prompt_text=prompt,
        status=Status.SUCCEEDED,
        completed_at=timezone.now(),
    )
    asset = Asset(
        workspace=workspace,
        generation=generation,
        index=0,
        kind=Asset.Kind.IMAGE,
        mime_type="image/png",
        width=64,
        height=40,
        source_url="https://example.com/result.png",
    )
    data = png(colour)
    asset.size = len(data)
    asset.file.save("result.png", ContentFile(data), save=False)
    asset.save()
    return generation


def make_collection(user, items: list[Generation], name: str = "Client picks") -> Collection:
    collection = Collection.objects.create(workspace=workspace_of(user), name=name, created_by=user)
    for item in items:
        CollectionItem.objects.create(collection=collection, generation=item, added_by=user)
    return collection


def make_comparison(user, items: list[Generation], *, source: str = Batch.Source.COMPARE) -> Batch:
    batch = Batch.objects.create(workspace=workspace_of(user), created_by=user, name="A fox", source=source)
    for line, item in enumerate(items, start=1):
        BatchItem.objects.create(batch=batch, generation=item, line=line)
    return batch


def share(user, target, kind: str = "item", **options) -> NewShare:
    return share_create(workspace=workspace_of(user), actor=user, kind=kind, target=target, **options)
