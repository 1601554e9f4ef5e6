"""The demo's generations, one click at a time, and their assets: who clicked, which model and prompt, how many
variations, how each one ended and which pool files it made; then a few of them in the trash."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from kiestudio.accounts.models import User
from kiestudio.gallery.demo.bulk import bulk_update, fast_insert
from kiestudio.gallery.demo.pool import PoolFile
from kiestudio.gallery.demo.vocabulary import write_prompt
from kiestudio.kie.catalog import ModelSpec, estimate_credits, load_catalog
from kiestudio.studio.models import PENDING, Asset, Generation, Prompt, Status
from kiestudio.workspaces.models import Workspace

DEMO_URL = "https://tempfile.aiquickdraw.com/demo"
OUTPUT_WEIGHTS = {"image": 0.62, "video": 0.28, "audio": 0.10}
FAILURES = (
    ("content_rejected", "Kie's content filter rejected this prompt or image. Rephrase it or use a different image."),
    ("generation_failed", "Kie could not generate this. Try again, perhaps with a different prompt or settings."),
    ("upstream_error", "Kie had an internal error. Try again in a minute."),
    ("invalid_input", "Kie rejected the settings for this request. Check the inputs and try again."),
    ("timeout", "Kie took too long to answer. Try again in a moment."),
)


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


class Clicks:
    """The generation rows, one click at a time: who clicked, which model and prompt, how many variations, how each
    one ended and, when it succeeded, which pool files it made. Nothing is written here (see ``insert_clicks``)."""

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
            text = write_prompt(self.rng, spec)
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


def insert_clicks(clicks: Clicks) -> list[Asset]:
    """The new prompts, the generations and their assets (many rows share a pool file), in that order."""
    fast_insert(Prompt, list(clicks.new_prompts.values()))
    for g in clicks.rows:
        g.prompt_id = g.prompt.pk if g.prompt is not None else None
    fast_insert(Generation, clicks.rows)
    assets = [_asset(g, index, f) for g in clicks.rows for index, f in enumerate(clicks.files.get(id(g), ()))]
    for a in assets:
        a.generation_id = a.generation.pk
    fast_insert(Asset, assets)
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


def trash_some(rng: random.Random, rows: list[Generation], now: datetime, generations: int) -> list[Generation]:
    """A few items in the trash, deleted lately by their creator (the purge keeps files other rows still use)."""
    trash = rng.sample(rows, min(len(rows), max(1, generations // 1000), 100)) if rows else []
    for g in trash:
        g.deleted_at = now - timedelta(days=rng.uniform(0, 25), seconds=1)
        g.deleted_by_id = g.created_by_id
    bulk_update(trash, ["deleted_at", "deleted_by"])
    return trash
