"""``manage.py seed_demo --generations N``: a realistic demo gallery, fast.

One workspace with a small team, N generations spread over the last year across the catalog's models, de-duplicated
prompts, collections, favourites and a few trashed items. Succeeded generations get real files: a small pool of
PNG images with WebP thumbnails, MP4 videos with posters and WAV audio is rendered once into the default storage,
and many ``Asset`` rows point at the same stored names (the trash purge deletes only files no row still uses). The
big tables are written in batches of 2,000 straight to the database (``executemany`` on SQLite, ``COPY`` on
PostgreSQL; no signals, no services): 100,000 generations take about 25 s on SQLite and 20 s on PostgreSQL. The
prompt search index is kept in sync by the database itself (FTS5 triggers on SQLite, a generated column on
PostgreSQL).

Run it again to add another batch: without ``--workspace-name`` it makes a new workspace, with it it adds to the
workspace of that name (creating it when missing). The demo people are shared between runs.
"""

from __future__ import annotations

import io
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from kiestudio.accounts.models import User
from kiestudio.gallery.models import Collection, CollectionItem, Favorite
from kiestudio.kie.catalog import ModelSpec, estimate_credits, load_catalog
from kiestudio.studio.models import PENDING, Asset, Generation, Prompt, Status
from kiestudio.workspaces.models import Membership, Role, Workspace

BATCH = 2000
DEMO_PASSWORD = "kiestudio-demo"
DEMO_DOMAIN = "demo.kiestudio.example"
POOL_DIR = "demo/pool"
DEMO_URL = "https://tempfile.aiquickdraw.com/demo"
IMAGE_POOL = 40
VIDEO_POOL = 3
AUDIO_POOL = 3

PEOPLE = (
    "Ada Lovelace",
    "Grace Hopper",
    "Hedy Lamarr",
    "Katherine Johnson",
    "Alan Turing",
    "Margaret Hamilton",
    "Radia Perlman",
    "Claude Shannon",
    "Frances Allen",
    "Tim Berners-Lee",
    "Barbara Liskov",
    "Dennis Ritchie",
)


def _words(text: str) -> tuple[str, ...]:
    """Phrases separated by semicolons (line breaks inside a phrase are spaces)."""
    return tuple(" ".join(phrase.split()) for phrase in text.split(";") if phrase.strip())


# --- Prompt vocabulary: a few words are common (search finds thousands), most are rare --------------------------

SUBJECTS = _words(
    """
    a red fox; an astronaut; a lighthouse keeper; a vintage motorcycle; a koi pond; an old fisherman; a paper crane;
    a glass teapot; a snow leopard; a street food vendor; a hummingbird; a Victorian greenhouse; a bowl of ramen; a
    desert caravan; a jazz trio; a tiny robot; a sunflower field; a medieval castle; a skateboarder; a ballerina; a
    steam locomotive; an axolotl; a bonsai tree; a whale shark; a samurai; a retro diner; a hot air balloon; a
    mountain cabin; a chameleon; a violinist; a stack of pancakes; a street cat; a treehouse; a sailing ship; a
    vintage camera; a lemur; an ice cave; a floating island; a clockwork owl; a barista; a polar bear cub; a red
    panda; a chess grandmaster; a lantern festival; a wolf pack; a surfer; a gothic cathedral; a mushroom forest; a
    garden snail; a tea ceremony; a private detective; a sleeping dragon; a jellyfish; a vinyl record shop; a
    bicycle courier; a farmers market; a spaceship cockpit; a beekeeper; a typewriter; a pair of sneakers
    """
)
ACTIONS = ("",) * 3 + _words(
    """
    standing still; resting; dancing; reading a map; waiting for the rain to stop; drifting; glowing softly;
    running; asleep; looking out of a window; walking alone; caught mid-jump; surrounded by fireflies; covered in
    frost; made of folded paper; reflected in a puddle; half submerged
    """
)
SETTINGS = _words(
    """
    in a misty pine forest; on a rainy Tokyo street; in a sunlit kitchen; on the surface of Mars; at the edge of a
    frozen lake; in a bustling night market; inside an abandoned library; on a windswept cliff; in a Moroccan
    courtyard; under the northern lights; in a coral reef; on a Brooklyn rooftop; in a lavender field; in a snowy
    village; in a desert canyon; in a foggy harbour; inside a greenhouse; in a neon arcade; in an art deco lobby; in
    a bamboo grove; in a cozy bookshop; on a moonlit beach; in a flooded subway station; in the Scottish highlands;
    on a Venetian canal; in a 1970s living room; in an alpine meadow; at a train station at dawn; in a Martian
    greenhouse; on an empty basketball court; in a Parisian cafe; at a lighthouse on a stormy night
    """
)
STYLES = _words(
    """
    cinematic photograph; watercolor illustration; 35mm film photo; oil painting; isometric 3D render; Polaroid
    snapshot; ukiyo-e woodblock print; claymation still; low-poly render; art nouveau poster; charcoal sketch; pixel
    art; synthwave poster; editorial fashion photo; product photography; children's book illustration; double
    exposure; macro photograph; tilt-shift photo; noir film still; vaporwave collage; clean line art; gouache
    painting; hyperrealistic render; documentary photo; risograph print; stained glass window; paper cut-out art;
    infrared photograph; tapestry
    """
)
LIGHTING = _words(
    """
    golden hour light; soft window light; harsh midday light; neon light; candle light; moonlight; rim light;
    volumetric light; overcast light; dappled light; blue hour light; studio light; firelight; backlit; foggy
    morning light; dramatic side light; warm lamp light; cold fluorescent light
    """
)
RARE = ("bioluminescent", "holographic", "iridescent", "anamorphic", "chiaroscuro", "brutalist", "solarpunk")
CAMERA = _words(
    """
    Slow dolly-in; Drone shot; Handheld tracking shot; Static wide shot; Timelapse; Orbit shot; Crane shot rising;
    Extreme close-up; Whip pan; Slow motion
    """
)
EDITS = _words(
    """
    Replace the background with {setting}; Turn it into a {style}; Add {lighting}; Remove the people and keep
    {subject}; Make it look like a {style} {setting}
    """
)
MOODS = _words(
    """
    Melancholic; Upbeat; Dreamy; Dark; Playful; Epic; Calm; Nostalgic; Energetic; Tender
    """
)
GENRES = _words(
    """
    lo-fi hip hop; synthwave; bossa nova; orchestral score; indie folk; drum and bass; ambient drone; jazz ballad;
    city pop; afrobeat; chiptune; post-rock; reggaeton; baroque harpsichord piece
    """
)
INSTRUMENTS = _words(
    """
    a dusty piano; warm analog synths; nylon-string guitar; a string quartet; a muted trumpet; 808 drums; a kalimba;
    a cello solo; hand claps; a church organ; a banjo; a vibraphone
    """
)
TOPICS = _words(
    """
    how to brew the perfect pour-over coffee; the history of the lighthouse; three tips for better sleep; our new
    spring collection; what makes a great product demo; the migration of the arctic tern; a quick tour of the
    studio; why bees matter; the making of our short film; this week's release notes
    """
)
SOUNDS = _words(
    """
    Thunder rolling over distant hills; Footsteps on fresh gravel; A busy cafe with clinking cups; Rain on a tin
    roof; An old door creaking open; A spaceship engine humming; Waves crashing on rocks; A crackling campfire; Wind
    through a bamboo grove; A cat purring; A vintage typewriter; Distant sirens; A crowd cheering in a stadium; A
    magic spell whoosh; Birdsong at dawn in a forest
    """
)
FAILURES = (
    ("content_rejected", "Kie's content filter rejected this prompt or image. Rephrase it or use a different image."),
    ("generation_failed", "Kie could not generate this. Try again, perhaps with a different prompt or settings."),
    ("upstream_error", "Kie had an internal error. Try again in a minute."),
    ("invalid_input", "Kie rejected the settings for this request. Check the inputs and try again."),
    ("timeout", "Kie took too long to answer. Try again in a moment."),
)
COLLECTIONS = (
    ("Moodboard: neon nights", {"image"}, "neon"),
    ("Client: Aurora spring campaign", {"image", "video"}, ""),
    ("Storyboard: short film", {"video"}, ""),
    ("Podcast sound library", {"audio"}, ""),
    ("Best of the year", {"image", "video", "audio"}, ""),
    ("Characters", {"image"}, ""),
)
OUTPUT_WEIGHTS = {"image": 0.62, "video": 0.28, "audio": 0.10}
IMAGE_ASPECTS = ("1:1", "1:1", "3:4", "4:3", "16:9", "9:16", "2:3", "3:2")


def _prompt(rng: random.Random, spec: ModelSpec) -> str:
    """A new prompt for this model's kind."""
    if spec.prompt_field is None:
        return ""
    subject, setting = rng.choice(SUBJECTS), rng.choice(SETTINGS)
    style, lighting, action = rng.choice(STYLES), rng.choice(LIGHTING), rng.choice(ACTIONS)
    rare = f"{rng.choice(RARE)} " if rng.random() < 0.01 else ""
    kind = spec.kind
    if kind == "music":
        return (
            f"{rng.choice(MOODS)} {rng.choice(GENRES)} with {rng.choice(INSTRUMENTS)}, {rng.randint(70, 160)} BPM, "
            f"for a video about {subject} {setting}"
        )
    if kind == "speech":
        return f"Welcome back to the studio. Today: {rng.choice(TOPICS)}. Stay with us until the end."
    if kind == "sound_effect":
        return f"{rng.choice(SOUNDS)}, {rng.choice(('close', 'distant', 'muffled', 'crisp', 'looping'))}"
    if kind == "image_edit":
        template = rng.choice(EDITS)
        return template.format(setting=setting, style=style, lighting=lighting, subject=subject)
    if spec.output == "video":
        return f"{rng.choice(CAMERA)} of {rare}{subject} {action} {setting}, {style}, {lighting}".replace("  ", " ")
    return f"{rare}{subject} {action} {setting}, {style}, {lighting}".replace("  ", " ").strip()


# --- Media pool ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolFile:
    kind: str
    name: str
    mime: str
    size: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    thumbnail: str = ""


def _store(name: str, data: bytes | None) -> int:
    """Save ``data`` under exactly ``name`` unless a file is already there; the stored size."""
    if not default_storage.exists(name):
        if data is None:
            raise FileNotFoundError(name)
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent run won the race; use theirs
            default_storage.delete(saved)
    return default_storage.size(name)


def build_pool(images: int = IMAGE_POOL, videos: int = VIDEO_POOL, audios: int = AUDIO_POOL) -> dict[str, list]:
    """Real files, rendered once and reused: PNG images with WebP thumbnails, MP4 videos with posters, WAV."""
    from kiestudio.simulator.media import MediaItem, aspect_size, render
    from kiestudio.studio import media as studio_media

    pool: dict[str, list[PoolFile]] = {"image": [], "video": [], "audio": []}
    for i in range(images):
        width, height = aspect_size(IMAGE_ASPECTS[i % len(IMAGE_ASPECTS)], 512)
        name, thumb = f"{POOL_DIR}/image-{i:02d}.png", f"{POOL_DIR}/image-{i:02d}-thumb.webp"
        data = thumb_data = None
        if not (default_storage.exists(name) and default_storage.exists(thumb)):
            item = MediaItem(f"{i}.png", "image", width, height, text=SUBJECTS[i % len(SUBJECTS)], key=f"demo{i}")
            data = render(item)
            thumb_data = studio_media.image_thumbnail(io.BytesIO(data))
        size = _store(name, data)
        _store(thumb, thumb_data)
        pool["image"].append(PoolFile("image", name, "image/png", size, width, height, thumbnail=thumb))
    for i in range(videos):
        width, height = aspect_size(("16:9", "9:16", "1:1")[i % 3], 320, even=True)
        name, poster = f"{POOL_DIR}/video-{i}.mp4", f"{POOL_DIR}/video-{i}-poster.webp"
        data = poster_data = None
        if not (default_storage.exists(name) and default_storage.exists(poster)):
            item = MediaItem(f"{i}.mp4", "video", width, height, seconds=1.0, text="Kie Studio demo", key=f"v{i}")
            data = render(item, fps=12)
            poster_data = studio_media.video_poster(io.BytesIO(data))
        size = _store(name, data)
        _store(poster, poster_data)
        pool["video"].append(PoolFile("video", name, "video/mp4", size, width, height, 1.0, thumbnail=poster))
    for i in range(audios):
        seconds = (1.0, 2.0, 1.5)[i % 3]
        name = f"{POOL_DIR}/audio-{i}.wav"
        data = None
        if not default_storage.exists(name):
            data = render(MediaItem(f"{i}.wav", "audio", seconds=seconds, key=f"a{i}"))
        size = _store(name, data)
        pool["audio"].append(PoolFile("audio", name, "audio/wav", size, duration=seconds))
    return pool


# --- Seeding ---------------------------------------------------------------------------------------------------


@dataclass
class SeedResult:
    workspace: Workspace
    users: list[User]
    generations: int = 0
    by_output: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    assets: int = 0
    prompts: int = 0
    collections: int = 0
    collection_items: int = 0
    favorites: int = 0
    trashed: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        kinds = ", ".join(f"{self.by_output.get(k, 0):,} {k}" for k in ("image", "video", "audio"))
        return (
            f"Seeded {self.generations:,} generations ({kinds}; {self.assets:,} assets, {self.prompts:,} new prompts, "
            f"{self.collections} collections with {self.collection_items:,} items, {self.favorites:,} favourites, "
            f"{self.trashed} in trash) into workspace “{self.workspace.name}” (#{self.workspace.pk}) with "
            f"{len(self.users)} members in {self.seconds:.1f} s; sign in as {self.users[0].email} / {DEMO_PASSWORD}"
        )


def _people(count: int) -> list[User]:
    names = [PEOPLE[i] if i < len(PEOPLE) else f"Demo Member {i + 1}" for i in range(count)]
    emails = [f"{name.lower().replace(' ', '.')}@{DEMO_DOMAIN}" for name in names]
    existing = {u.email: u for u in User.objects.filter(email__in=emails)}
    missing = [
        User(email=email, name=name, password="")
        for name, email in zip(names, emails, strict=True)
        if email not in existing
    ]
    if missing:
        password = make_password(DEMO_PASSWORD)  # hashed once for everyone
        for user in missing:
            user.password = password
        User.objects.bulk_create(missing)
        existing.update({u.email: u for u in User.objects.filter(email__in=[u.email for u in missing])})
    return [existing[email] for email in emails]


def _workspace(name: str | None, users: list[User]) -> Workspace:
    if name:
        workspace = Workspace.objects.filter(name=name, is_personal=False).order_by("pk").first()
    else:
        taken = Workspace.objects.filter(name__startswith="Demo studio").count()
        name = "Demo studio" if taken == 0 else f"Demo studio {taken + 1}"
        workspace = None
    if workspace is None:
        workspace = Workspace.objects.create(name=name[:80], created_by=users[0])
    present = set(Membership.objects.filter(workspace=workspace).values_list("user_id", flat=True))
    Membership.objects.bulk_create(
        Membership(workspace=workspace, user=user, role=_role(i, len(users)))
        for i, user in enumerate(users)
        if user.pk not in present
    )
    return workspace


def _role(index: int, count: int) -> str:
    """The first person owns the workspace, the second administers it, the last of four or more only views."""
    if index == 0:
        return Role.OWNER
    if index == count - 1 and count >= 4:
        return Role.VIEWER
    return Role.ADMIN if index == 1 else Role.MEMBER


def _credits(spec: ModelSpec) -> Decimal:
    inputs = {f.name: f.default_value() for f in spec.fields if f.has_default}
    if spec.prompt_field:
        inputs[spec.prompt_field] = "x" * 400
    try:
        return Decimal(estimate_credits(spec, inputs))
    except Exception:  # a price that needs inputs we did not fill: a plausible figure
        return Decimal(str(spec.price.get("credits", 10)))


def _weighted_models(rng: random.Random) -> dict[str, tuple[list[ModelSpec], list[float]]]:
    """Per output, the catalog's models with long-tailed popularity (a few favourites, many rarely used)."""
    out: dict[str, tuple[list[ModelSpec], list[float]]] = {}
    for output in OUTPUT_WEIGHTS:
        specs = [s for s in load_catalog().originals if s.output == output]
        rng.shuffle(specs)
        out[output] = (specs, [1 / (rank + 1) ** 0.9 for rank in range(len(specs))])
    return out


def _bulk(model, rows: list, batch: int = BATCH) -> None:
    for start in range(0, len(rows), batch):
        model.objects.bulk_create(rows[start : start + batch], batch_size=batch)


_PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "EmailField",
        "FloatField",
        "ForeignKey",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def _reserve_ids(model, count: int) -> list[int] | None:
    """``count`` fresh primary keys, in increasing order; None on a database we have no recipe for."""
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # safe alongside other writers: the sequence hands them out
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, column, count]
            )
            return sorted(row[0] for row in cursor.fetchall())
        if connection.vendor == "sqlite":  # safe: the IMMEDIATE transaction holds the write lock
            qn = connection.ops.quote_name
            cursor.execute(f"SELECT COALESCE(MAX({qn(column)}), 0) FROM {qn(table)}")
            top = cursor.fetchone()[0]
            cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [table])
            top = max(top, cursor.fetchone()[0])
            return list(range(top + 1, top + 1 + count))
    return None


def _fast_insert(model, objs: list, batch: int = BATCH) -> None:
    """``bulk_create`` without the ORM's per-value SQL compilation (which dominates at 100,000 rows): primary keys
    are reserved up front, values are adapted once per field and rows go to ``executemany`` in batches. No signals
    run, as with ``bulk_create``; ``auto_now``/``auto_now_add`` fields get the current time."""
    if not objs:
        return
    ids = _reserve_ids(model, len(objs))
    if ids is None:
        _bulk(model, objs, batch)
        return
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
    stamp = timezone.now()
    conn = connections[DEFAULT_DB_ALIAS]  # the object itself: the proxy costs a thread-local lookup per value
    fields = model._meta.concrete_fields
    adapters: list[Callable[..., Any] | None] = []  # None: the value goes in as it is
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = f.get_db_prep_save(stamp, conn)
            adapters.append(lambda _v, value=value: value)
        elif f.get_internal_type() in _PLAIN_TYPES:
            adapters.append(None)
        else:
            adapters.append(lambda v, f=f: f.get_db_prep_save(v, conn))
    qn = conn.ops.quote_name
    head = f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) VALUES "
    one = f"({', '.join(['%s'] * len(fields))})"
    pairs = [(f.attname, adapt) for f, adapt in zip(fields, adapters, strict=True)]

    def values(chunk: list) -> list[tuple]:
        return [
            tuple(getattr(obj, name) if adapt is None else adapt(getattr(obj, name)) for name, adapt in pairs)
            for obj in chunk
        ]

    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":  # COPY: one stream, no per-statement parsing
            columns = ", ".join(qn(f.column) for f in fields)
            with cursor.cursor.copy(f"COPY {qn(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(objs), batch):
                    for row in values(objs[start : start + batch]):
                        copy.write_row(row)
            return
        for start in range(0, len(objs), batch):  # SQLite runs executemany in-process: the fastest way in
            cursor.executemany(head + one, values(objs[start : start + batch]))


def _bulk_update(objs: list, fields: list[str]) -> None:
    """For the few rows changed after insert (``bulk_update`` builds one CASE per row, so keep batches small)."""
    for start in range(0, len(objs), 500):
        Generation.objects.bulk_update(objs[start : start + 500], fields)


class _Clicks:
    """The generation rows, one click at a time: who clicked, which model and prompt, how many variations, how each
    one ended and, when it succeeded, which pool files it made. Nothing is written here (see ``_insert``)."""

    def __init__(
        self,
        rng: random.Random,
        *,
        now: datetime,
        workspace: Workspace,
        pool: dict[str, list[PoolFile]],
        creators: list[User],
        total: int,
    ) -> None:
        self.rng, self.now, self.workspace, self.pool, self.total = rng, now, workspace, pool, total
        self.creators = creators
        self.creator_weights = [1 / (i + 1) ** 0.6 for i in range(len(creators))]
        self.models = _weighted_models(rng)
        self.credits = {s.key: _credits(s) for s in load_catalog()}
        self.outputs, self.output_weights = list(OUTPUT_WEIGHTS), list(OUTPUT_WEIGHTS.values())
        # Clicks over the last year, busier lately; each click makes 1 to 4 variations with one prompt.
        year = 365 * 24 * 3600
        self.stamps = sorted(now - timedelta(seconds=year * (1 - rng.random() ** 0.7) + 600) for _ in range(total))
        self.pending_left = min(12, max(1, total // 1000)) if total else 0
        self.prompt_rows: dict[str, Prompt] = {
            p.text_hash: p for p in Prompt.objects.filter(workspace=workspace).only("id", "text_hash")
        }
        self.new_prompts: dict[str, Prompt] = {}
        self.recent_texts: dict[str, list[str]] = {o: [] for o in self.outputs}
        self.rows: list[Generation] = []
        self.files: dict[int, list[PoolFile]] = {}

    def run(self) -> list[Generation]:
        while len(self.rows) < self.total:
            self._click(self.stamps[len(self.rows)])
        return self.rows

    def _click(self, created: datetime) -> None:
        rng = self.rng
        user = rng.choices(self.creators, self.creator_weights)[0]
        output = rng.choices(self.outputs, self.output_weights)[0]
        specs, weights = self.models[output]
        spec = rng.choices(specs, weights)[0]
        text = self._text(output, spec)
        variations = rng.choices((1, 2, 4), (0.55, 0.25, 0.2))[0] if output == "image" else rng.choice((1, 1, 2))
        variations = min(variations, self.total - len(self.rows))
        prompt = self._prompt_row(text, user, variations, created)
        for variation in range(1, variations + 1):
            status, at = self._status(created)
            g = Generation(
                workspace=self.workspace,
                created_by=user,
                model_key=spec.key,
                family=spec.family,
                kind=spec.kind,
                output=spec.output,
                inputs={spec.prompt_field: text} if spec.prompt_field else {},
                prompt=prompt,
                prompt_text=text,
                variation=variation,
                status=status,
                credits_estimated=self.credits[spec.key],
                created_at=at,
            )
            self._timing(g, spec)
            self._outcome(g, spec)
            if status == Status.SUCCEEDED:
                self._results(g, spec, output)
            self.rows.append(g)

    def _text(self, output: str, spec: ModelSpec) -> str:
        """A new prompt, or now and then one written earlier for the same kind of output run again."""
        recent = self.recent_texts[output]
        if spec.prompt_field and recent and self.rng.random() < 0.3:
            text = self.rng.choice(recent[-50:])
        else:
            text = _prompt(self.rng, spec)
        if text:
            recent.append(text)
        return text

    def _prompt_row(self, text: str, user: User, variations: int, created: datetime) -> Prompt | None:
        """The text's ``Prompt`` row (one per distinct text in the workspace), counting this click's uses."""
        if not text:
            return None
        digest = Prompt.hash_text(text)
        prompt = self.prompt_rows.get(digest)
        if prompt is None:
            prompt = Prompt(workspace=self.workspace, text=Prompt.normalise(text), text_hash=digest, created_by=user)
            self.prompt_rows[digest] = self.new_prompts[digest] = prompt
        if digest in self.new_prompts:
            prompt.use_count += variations
            prompt.last_used_at = created
        return prompt

    def _status(self, created: datetime) -> tuple[str, datetime]:
        """How a variation ended, and when it was made: the newest few are still running, started minutes ago."""
        if self.total - len(self.rows) <= self.pending_left:
            status = self.rng.choice(PENDING)
            return status, self.now - timedelta(seconds=self.rng.randint(5, 300))
        statuses = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED, Status.UNKNOWN)
        return self.rng.choices(statuses, (0.9, 0.065, 0.02, 0.015))[0], created

    def _timing(self, g: Generation, spec: ModelSpec) -> None:
        """When it was sent to Kie (all but the queued) and when it finished (the ended ones)."""
        rng, created = self.rng, g.created_at
        if g.status != Status.QUEUED:
            g.submitted_at = created + timedelta(seconds=rng.uniform(0.3, 3))
            g.create_sent_at = g.submitted_at
            g.kie_task_id = f"demo{rng.getrandbits(64):016x}"
            g.submit_attempts = 1
        if g.status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELED):
            g.completed_at = created + timedelta(seconds=spec.typical_seconds * rng.uniform(0.5, 2.5))
            g.poll_count = rng.randint(1, 6)

    def _outcome(self, g: Generation, spec: ModelSpec) -> None:
        """Kie's state, the charge, the failure, or a check far in the future (never picked up by a demo's worker)."""
        status = g.status
        if status == Status.SUCCEEDED:
            g.kie_state, g.credits_charged = "success", self.credits[spec.key]
        elif status == Status.FAILED:
            g.kie_state, g.credits_charged = "fail", Decimal("0")
            g.failure_class, g.failure_message = self.rng.choice(FAILURES)
        elif status == Status.UNKNOWN:
            g.failure_class = "unknown_outcome"
            g.failure_message = "The studio lost contact with Kie while sending this; it was not sent again."
        elif status in PENDING:
            g.next_check_at = self.now + timedelta(days=3650)
            g.deadline_at = self.now + timedelta(days=3650)

    def _results(self, g: Generation, spec: ModelSpec, output: str) -> None:
        """Files: mostly one; some image models return several, Suno returns two tracks."""
        rng = self.rng
        multi = output == "image" and rng.random() < 0.1
        count = 2 if spec.family == "suno" else (rng.choice((2, 4)) if multi else 1)
        self.files[id(g)] = picked = [rng.choice(self.pool[output]) for _ in range(count)]
        g.results = [
            {"url": f"{DEMO_URL}/{g.kie_task_id}/{n}.{f.name.rsplit('.', 1)[1]}", "kind": output, "metadata": {}}
            for n, f in enumerate(picked)
        ]


def _insert(clicks: _Clicks) -> list[Asset]:
    """The new prompts, the generations and their assets (many rows share a pool file), in that order."""
    _fast_insert(Prompt, list(clicks.new_prompts.values()))
    for g in clicks.rows:
        g.prompt_id = g.prompt.pk if g.prompt is not None else None
    _fast_insert(Generation, clicks.rows)
    assets = [_asset(g, index, f) for g in clicks.rows for index, f in enumerate(clicks.files.get(id(g), ()))]
    for a in assets:
        a.generation_id = a.generation.pk
    _fast_insert(Asset, assets)
    return assets


def _asset(g: Generation, index: int, f: PoolFile) -> Asset:
    asset = Asset(
        workspace=g.workspace,
        generation=g,
        index=index,
        kind=f.kind,
        mime_type=f.mime,
        size=f.size,
        width=f.width,
        height=f.height,
        duration=f.duration,
        source_url=g.results[index]["url"],
    )
    asset.file.name, asset.thumbnail.name = f.name, f.thumbnail
    return asset


def _trash(rng: random.Random, rows: list[Generation], now: datetime, generations: int) -> list[Generation]:
    """A few items in the trash, deleted lately by their creator (the purge keeps files other rows still use)."""
    trash = rng.sample(rows, min(len(rows), max(1, generations // 1000), 100)) if rows else []
    for g in trash:
        g.deleted_at = now - timedelta(days=rng.uniform(0, 25), seconds=1)
        g.deleted_by_id = g.created_by_id
    _bulk_update(trash, ["deleted_at", "deleted_by"])
    return trash


def _collections(
    rng: random.Random, workspace: Workspace, creators: list[User], live: list[Generation], now: datetime
) -> tuple[list[Collection], list[CollectionItem]]:
    """Three to five collections, each of visible results whose prompt has the collection's word."""
    items: list[CollectionItem] = []
    chosen = rng.sample(COLLECTIONS, min(len(COLLECTIONS), 3 + rng.randint(0, 2)))
    collections = [
        Collection(workspace=workspace, name=name, created_by=rng.choice(creators), created_at=now)
        for name, _, _ in chosen
    ]
    _bulk(Collection, collections)
    for collection, (_, wanted, word) in zip(collections, chosen, strict=True):
        candidates = [g for g in live if g.output in wanted and word in g.prompt_text]
        picked = rng.sample(candidates, min(len(candidates), rng.randint(12, 240)))
        items.extend(
            CollectionItem(
                collection=collection,
                generation=g,
                added_by=rng.choice(creators),
                added_at=g.created_at + timedelta(hours=rng.uniform(0, 48)),
            )
            for g in picked
        )
    _bulk(CollectionItem, items)
    return collections, items


def _favorites(rng: random.Random, workspace: Workspace, users: list[User], live: list[Generation]) -> list[Favorite]:
    """Each person's favourites among the visible results."""
    favorites: list[Favorite] = []
    for user in users:
        picked = rng.sample(live, min(len(live), max(1, len(live) // 80), 1500)) if live else []
        favorites.extend(
            Favorite(workspace=workspace, user=user, generation=g, created_at=g.created_at) for g in picked
        )
    _bulk(Favorite, favorites)
    return favorites


def _creators(users: list[User]) -> list[User]:
    """Everyone but the viewers."""
    return [u for i, u in enumerate(users) if _role(i, len(users)) != Role.VIEWER]


def _live(rows: list[Generation], trash: list[Generation]) -> list[Generation]:
    """What collections and favourites are made of: the results that succeeded and are not in the trash."""
    trashed_ids = {g.pk for g in trash}
    return [g for g in rows if g.pk not in trashed_ids and g.status == Status.SUCCEEDED]


def _tally(result: SeedResult, rows: list[Generation]) -> None:
    for g in rows:
        result.by_output[g.output] = result.by_output.get(g.output, 0) + 1
        result.by_status[g.status] = result.by_status.get(g.status, 0) + 1
    result.generations = len(rows)


def seed_demo(
    *,
    generations: int,
    workspace_name: str | None = None,
    members: int = 5,
    seed: int = 1,
    pool: dict[str, list[PoolFile]] | None = None,
    now: datetime | None = None,
) -> SeedResult:
    """Create the demo workspace (or add to the named one) with ``generations`` generations. See the module doc."""
    started = time.monotonic()
    if generations < 0 or members < 1:
        raise ValueError("generations must be >= 0 and members >= 1")
    rng = random.Random(seed)
    now = now or timezone.now()
    pool = pool or build_pool()
    with transaction.atomic():
        users = _people(members)
        workspace = _workspace(workspace_name, users)
        result = SeedResult(workspace=workspace, users=users)
        creators = _creators(users)
        clicks = _Clicks(rng, now=now, workspace=workspace, pool=pool, creators=creators, total=generations)
        rows = clicks.run()
        assets = _insert(clicks)
        trash = _trash(rng, rows, now, generations)
        live = _live(rows, trash)
        collections, items = _collections(rng, workspace, creators, live, now)
        favorites = _favorites(rng, workspace, users, live)

    _tally(result, rows)
    result.assets = len(assets)
    result.prompts = len(clicks.new_prompts)
    result.collections = len(collections)
    result.collection_items = len(items)
    result.favorites = len(favorites)
    result.trashed = len(trash)
    result.seconds = time.monotonic() - started
    return result


def search_works(result: SeedResult) -> bool:
    """The prompt search index found what was seeded (FTS5 triggers on SQLite, a generated column on PostgreSQL)."""
    from kiestudio.gallery.selectors import search_filter

    sample = (
        Generation.objects.filter(workspace=result.workspace)
        .exclude(prompt_text="")
        .order_by("-id")
        .values_list("prompt_text", flat=True)
        .first()
    )
    if sample is None:
        return True
    word = max(re.findall(r"[A-Za-z]{4,}", sample) or ["demo"], key=len)
    condition = search_filter(word)
    return condition is not None and Generation.objects.filter(workspace=result.workspace).filter(condition).exists()


class Command(BaseCommand):
    help = "Create a realistic demo gallery fast: a team workspace with N generations, real files, collections."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--generations", type=int, required=True, help="How many generations to create.")
        parser.add_argument(
            "--workspace-name", default=None, help="Add to this workspace (created when missing); default: a new one."
        )
        parser.add_argument("--members", type=int, default=5, help="People in the workspace (default 5).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")

    def handle(self, *args, generations: int, workspace_name: str | None, members: int, seed: int, **options) -> None:
        if generations < 0:
            raise CommandError("--generations must be 0 or more.")
        if members < 1:
            raise CommandError("--members must be at least 1.")
        result = seed_demo(generations=generations, workspace_name=workspace_name, members=members, seed=seed)
        if not search_works(result):
            raise CommandError("Seeded, but prompt search finds nothing: is the search migration applied?")
        self.stdout.write(result.summary())
