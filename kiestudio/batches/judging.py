"""Judging comparisons and the leaderboard they build.

A member picks the best result of a comparison (and may give each 1–5 stars); a blind comparison shows its results
as "A", "B", … until that member has voted. Each vote is a win for the best result's model over every other model
in that comparison: the leaderboard replays the votes in order as Elo matches (every model starts at 1000, K 32),
per kind of work (text to image, image to video, music…), and adds win counts, average stars and the credits
spent per win."""

from __future__ import annotations

import string
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet

from kiestudio.batches.models import Batch, BatchItem, Judgement
from kiestudio.batches.services import BatchError
from kiestudio.kie.catalog import KINDS, UnknownModel, get_model
from kiestudio.studio.models import Generation, Status
from kiestudio.workspaces.models import Workspace

START = 1000.0
K = 32.0


@dataclass
class Entry:
    """One result of a comparison, as the judge sees it."""

    letter: str
    generation: Generation
    model: str  # the model's name; "" while hidden (blind, not yet voted)
    stars: str = ""  # the member's stars for it, as the form's value


def comparison_entries(batch: Batch, *, reveal: bool, judgement: Judgement | None = None) -> list[Entry]:
    items = BatchItem.objects.filter(batch=batch, generation__retries__isnull=True).select_related("generation")
    given = judgement.stars if judgement else {}
    entries = []
    for letter, item in zip(string.ascii_uppercase, items.order_by("line", "pk"), strict=False):
        generation = item.generation
        name = _model_name(generation.model_key) if reveal else ""
        entries.append(Entry(letter, generation, name, str(given.get(str(generation.pk), ""))))
    return entries


def _model_name(key: str) -> str:
    try:
        return get_model(key).name
    except UnknownModel:
        return key


def judgement_of(batch: Batch, user) -> Judgement | None:
    return Judgement.objects.filter(batch=batch, user=user).first()


def comparison_judge(*, batch: Batch, user, winner_id: int | None, stars: dict[int, int]) -> Judgement:
    """Record (or replace) a member's verdict. The winner and every starred item must be finished results of this
    comparison; stars are 1 to 5."""
    if batch.source != Batch.Source.COMPARE:
        raise BatchError("Only a comparison of models can be judged.")
    finished = set(
        Generation.objects.filter(batch_item__batch=batch, status=Status.SUCCEEDED, retries__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if len(finished) < 2:
        raise BatchError("A comparison can be judged once at least two of its models have finished.")
    if winner_id is None:
        raise BatchError("Choose the best result.")
    if winner_id not in finished:
        raise BatchError("That result isn't a finished part of this comparison.")
    for pk, value in stars.items():
        if pk not in finished:
            raise BatchError("Stars can only go to the finished results of this comparison.")
        if value not in range(1, 6):
            raise BatchError("Stars are 1 to 5.")
    with transaction.atomic():
        judgement, _ = Judgement.objects.update_or_create(
            batch=batch,
            user=user,
            defaults={"winner_id": winner_id, "stars": {str(pk): value for pk, value in stars.items()}},
        )
    return judgement


@dataclass
class Standing:
    model_key: str
    name: str
    rating: float = START
    wins: int = 0
    comparisons: int = 0
    credits: Decimal = Decimal(0)
    stars: list[int] = field(default_factory=list)

    @property
    def average_stars(self) -> float | None:
        return sum(self.stars) / len(self.stars) if self.stars else None

    @property
    def credits_per_win(self) -> Decimal | None:
        return (self.credits / self.wins).quantize(Decimal("0.01")) if self.wins else None


def _expected(a: float, b: float) -> float:
    return 1.0 / (1.0 + 10 ** ((b - a) / 400.0))


def leaderboard(
    *, workspace: Workspace, tag_id: int | None = None, member_id: int | None = None
) -> dict[str, list[Standing]]:
    """Per kind of work (its label), the models judged in this workspace, best rated first."""
    judgements: QuerySet[Judgement] = Judgement.objects.filter(
        batch__workspace=workspace, batch__source=Batch.Source.COMPARE, winner__isnull=False
    ).select_related("winner")
    if member_id is not None:
        judgements = judgements.filter(user_id=member_id)
    if tag_id is not None:
        judgements = judgements.filter(batch__items__generation__tag_links__tag_id=tag_id).distinct()
    judgements = judgements.order_by("created_at", "pk")
    batch_ids = {j.batch_id for j in judgements}
    by_batch: dict[int, list[Generation]] = defaultdict(list)
    for item in BatchItem.objects.filter(
        batch_id__in=batch_ids, generation__status=Status.SUCCEEDED, generation__retries__isnull=True
    ).select_related("generation"):
        by_batch[item.batch_id].append(item.generation)
    boards: dict[str, dict[str, Standing]] = defaultdict(dict)
    paid: set[int] = set()  # a result's credits count once, however many members judged its comparison
    for judgement in judgements:
        assert judgement.winner is not None
        kind = KINDS.get(judgement.winner.kind, judgement.winner.kind)
        board = boards[kind]
        results = by_batch.get(judgement.batch_id, [])
        for generation in results:
            standing = board.setdefault(
                generation.model_key, Standing(generation.model_key, _model_name(generation.model_key))
            )
            standing.comparisons += 1
            if generation.pk not in paid:
                paid.add(generation.pk)
                standing.credits += generation.credits_charged or generation.credits_estimated
            given = judgement.stars.get(str(generation.pk))
            if given:
                standing.stars.append(int(given))
        winner = board.get(judgement.winner.model_key)  # absent if its result was since run again
        if winner is None:
            continue
        winner.wins += 1
        for generation in results:
            if generation.model_key == winner.model_key:
                continue
            loser = board[generation.model_key]
            expected = _expected(winner.rating, loser.rating)
            winner.rating += K * (1 - expected)
            loser.rating -= K * (1 - expected)
    return {
        kind: sorted(board.values(), key=lambda s: (-s.rating, -s.wins, s.name))
        for kind, board in sorted(boards.items())
    }
