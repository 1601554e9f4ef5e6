"""``manage.py seed_demo``: realistic, consistent demo data with real files, found by search."""

from __future__ import annotations

import io
import wave
from datetime import timedelta
from io import StringIO

import av
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

from kiestudio.gallery.management.commands.seed_demo import DEMO_PASSWORD, build_pool, search_works, seed_demo
from kiestudio.gallery.models import Collection, CollectionItem, Favorite
from kiestudio.gallery.selectors import gallery_page, gallery_queryset, parse_filters
from kiestudio.kie.catalog import get_model
from kiestudio.studio.models import PENDING, Asset, Generation, Prompt, Status
from kiestudio.workspaces.models import Membership, Role

pytestmark = pytest.mark.django_db

# Whole words from the seed's vocabulary that are no part of another word, so a search must find exactly the rows
# whose prompt contains them (on FTS5 and on PostgreSQL's English configuration alike).
DISTINCT_WORDS = ("astronaut", "axolotl", "samurai", "jellyfish", "lemur", "chameleon", "treehouse", "hummingbird")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def seeded(media):
    return seed_demo(generations=300, members=5, seed=3)


def test_counts_kinds_and_catalog_consistency(seeded):
    ws = seeded.workspace
    gens = Generation.objects.filter(workspace=ws)
    assert gens.count() == seeded.generations == 300
    outputs = {output: gens.filter(output=output).count() for output in ("image", "video", "audio")}
    assert all(outputs.values()), outputs
    assert outputs["image"] > outputs["video"] > outputs["audio"]
    models = set(gens.values_list("model_key", "family", "kind", "output").distinct())
    assert len({m[0] for m in models}) >= 15
    for key, family, kind, output in models:
        spec = get_model(key)
        assert (spec.family, spec.kind, spec.output) == (family, kind, output)

    statuses = {s: gens.filter(status=s).count() for s in Status.values}
    assert statuses[Status.SUCCEEDED] >= 240
    assert statuses[Status.FAILED] >= 1
    assert sum(statuses[s] for s in PENDING) >= 1
    assert not gens.filter(status=Status.FAILED, failure_message="").exists()

    # Spread over the last year, newest first; variations of one click share a timestamp (the id breaks ties).
    now = timezone.now()
    oldest = gens.order_by("created_at").first().created_at
    assert now - timedelta(days=366) < oldest < now - timedelta(days=120)
    assert gens.filter(created_at__gte=now - timedelta(days=30)).exists()
    ordered = list(gens.order_by("created_at", "id").values_list("id", flat=True))
    assert ordered[:-5] == sorted(ordered)[:-5]  # ids grow with time (the newest few are still running)


def test_team_prompts_collections_favourites_trash(seeded):
    ws = seeded.workspace
    roles = list(Membership.objects.filter(workspace=ws).order_by("pk").values_list("role", flat=True))
    assert roles == [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.MEMBER, Role.VIEWER]
    assert all(u.name for u in seeded.users)
    assert seeded.users[0].check_password(DEMO_PASSWORD)
    viewer = seeded.users[-1]
    assert not Generation.objects.filter(workspace=ws, created_by=viewer).exists()
    assert Generation.objects.filter(workspace=ws).values("created_by").distinct().count() == 4

    # Prompts are de-duplicated: one row per distinct text, and every generation points at its own text's row.
    gens = Generation.objects.filter(workspace=ws).exclude(prompt_text="")
    texts = set(gens.values_list("prompt_text", flat=True))
    assert Prompt.objects.filter(workspace=ws).count() == len(texts) == seeded.prompts
    assert len(texts) < gens.count()  # prompts get reused
    for g in gens.select_related("prompt")[:50]:
        assert g.prompt.text_hash == Prompt.hash_text(g.prompt_text)
        assert g.inputs == {get_model(g.model_key).prompt_field: g.prompt_text}
    reused = Prompt.objects.filter(workspace=ws, use_count__gt=1).first()
    assert reused.generations.count() == reused.use_count

    assert Collection.objects.filter(workspace=ws).count() == seeded.collections >= 3
    assert CollectionItem.objects.filter(collection__workspace=ws).count() == seeded.collection_items > 0
    assert Favorite.objects.filter(workspace=ws).count() == seeded.favorites >= 5
    trashed = Generation.objects.filter(workspace=ws, deleted_at__isnull=False)
    assert trashed.count() == seeded.trashed >= 1
    assert not Favorite.objects.filter(generation__in=trashed).exists()
    assert all(g.deleted_by_id == g.created_by_id for g in trashed)


def test_succeeded_items_have_real_shared_files(seeded):
    ws = seeded.workspace
    succeeded = Generation.objects.filter(workspace=ws, status=Status.SUCCEEDED)
    assert not succeeded.filter(assets__isnull=True).exists()
    assert not Asset.objects.filter(workspace=ws).exclude(generation__status=Status.SUCCEEDED).exists()
    assets = Asset.objects.filter(workspace=ws)
    assert assets.count() == seeded.assets >= succeeded.count()
    for suno in succeeded.filter(family="suno"):
        assert suno.assets.count() == 2
    for g in succeeded[:30]:
        assert [r["url"] for r in g.results] == [a.source_url for a in g.assets.all()]

    names = set(assets.values_list("file", flat=True)) | set(
        assets.exclude(thumbnail="").values_list("thumbnail", flat=True)
    )
    assert len(names) < assets.count()  # shared, not one copy per row
    for name in names:
        assert default_storage.exists(name), name
    for asset in assets.filter(kind="image")[:5]:
        with default_storage.open(asset.file.name) as fh, Image.open(fh) as image:
            assert image.format == "PNG" and image.size == (asset.width, asset.height)
        with default_storage.open(asset.thumbnail.name) as fh, Image.open(fh) as image:
            assert image.format == "WEBP"
        assert asset.size == default_storage.size(asset.file.name)
    video = assets.filter(kind="video").first()
    with default_storage.open(video.file.name) as fh, av.open(io.BytesIO(fh.read())) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert video.thumbnail.name.endswith(".webp") and video.duration == 1.0
    audio = assets.filter(kind="audio").first()
    with default_storage.open(audio.file.name) as fh, wave.open(io.BytesIO(fh.read())) as wav:
        assert wav.getnframes() > 0
    assert audio.mime_type == "audio/wav" and not audio.thumbnail


def test_search_finds_seeded_words(seeded):
    ws, user = seeded.workspace, seeded.users[0]
    member_ids = {u.pk for u in seeded.users}
    live = Generation.objects.filter(workspace=ws, deleted_at__isnull=True)

    def found(q: str) -> set[int]:
        filters = parse_filters({"q": q}, workspace=ws, member_ids=member_ids)
        return set(gallery_queryset(workspace=ws, user=user, filters=filters).values_list("id", flat=True))

    # A common word: most prompts mention some light; search finds many, and only prompts that say it.
    light = found("light")
    with_light = set(live.filter(prompt_text__icontains="light").values_list("id", flat=True))
    assert len(light) > 0.4 * live.exclude(prompt_text="").count()
    assert light <= with_light
    # A rarer word: exactly the rows whose prompt has it.
    word = next(w for w in DISTINCT_WORDS if live.filter(prompt_text__icontains=w).exists())
    assert found(word) == set(live.filter(prompt_text__icontains=word).values_list("id", flat=True))
    assert found(word.upper()) == found(word)
    # Two words: both must appear.
    assert found(f"{word} light") == found(word) & light
    assert found("zzzqqq") == set()
    assert search_works(seeded)

    page = gallery_page(
        workspace=ws, user=user, filters=parse_filters({"q": word}, workspace=ws, member_ids=member_ids)
    )
    assert page.items and all(word in g.prompt_text.lower() for g in page.items)


def test_command_prints_a_summary_and_runs_again(media):
    out = StringIO()
    call_command("seed_demo", "--generations", "40", "--members", "3", "--seed", "5", stdout=out)
    line = out.getvalue().strip()
    assert "\n" not in line
    assert line.startswith("Seeded 40 generations") and "Demo studio" in line
    pool_files = sorted(p.name for p in (media / "demo" / "pool").iterdir())

    # Again: a new workspace, the same people and the same pool of files (nothing re-rendered or duplicated).
    call_command("seed_demo", "--generations", "30", "--members", "3", stdout=out)
    assert "“Demo studio 2”" in out.getvalue()
    # Into a named workspace, twice: the second run adds to it, prompts stay de-duplicated.
    call_command("seed_demo", "--generations", "25", "--workspace-name", "Agency", stdout=out)
    call_command("seed_demo", "--generations", "25", "--workspace-name", "Agency", stdout=out)
    agency = Generation.objects.filter(workspace__name="Agency")
    assert agency.count() == 50
    assert agency.values("workspace").distinct().count() == 1
    ws = agency.first().workspace
    assert Prompt.objects.filter(workspace=ws).count() == len(
        set(agency.exclude(prompt_text="").values_list("prompt_text", flat=True))
    )
    assert Membership.objects.filter(workspace=ws).count() == 5
    assert sorted(p.name for p in (media / "demo" / "pool").iterdir()) == pool_files
    assert Generation.objects.count() == 120


def test_pool_is_rendered_once(media):
    first = build_pool(images=3, videos=1, audios=1)
    stamps = {p.name: (media / p.name).stat().st_mtime_ns for files in first.values() for p in files}
    again = build_pool(images=3, videos=1, audios=1)
    assert again == first
    assert {name: (media / name).stat().st_mtime_ns for name in stamps} == stamps
