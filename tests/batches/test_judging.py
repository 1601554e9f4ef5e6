"""Judging comparisons: the best result (and stars), blind until the member has voted; the votes replayed as Elo
matches per kind of work, with wins, stars and credits per win, filtered by tag and by who voted."""

from __future__ import annotations

import html
import uuid

import pytest

from kiestudio.batches import judging
from kiestudio.batches.compare import compare_create, compare_preview
from kiestudio.batches.models import Batch, Judgement
from kiestudio.batches.services import BatchError
from kiestudio.gallery.services import tags_add
from kiestudio.studio.models import Generation
from kiestudio.workspaces.models import Membership, Role
from tests.studio.helpers import drain, workspace_of

pytestmark = pytest.mark.django_db

MODELS = ["google/nano-banana", "google/imagen4-fast", "seedream/4.5-text-to-image"]


def _comparison(alice, *, blind=False, prompt="A lighthouse at dusk", models=MODELS) -> Batch:
    workspace = workspace_of(alice)
    preview = compare_preview(workspace=workspace, prompt=prompt, model_keys=models, shared={}, overrides={})
    batch = compare_create(
        workspace=workspace,
        membership=Membership.objects.get(workspace=workspace, user=alice),
        preview=preview,
        prompt=prompt,
        request_key=uuid.uuid4(),
        blind=blind,
    )
    drain()
    return batch


def _by_model(batch: Batch) -> dict[str, Generation]:
    return {g.model_key: g for g in Generation.objects.filter(batch_item__batch=batch)}


def test_votes_replay_as_elo_matches_with_wins_stars_and_credits_per_win(kie_sim, alice):
    first, second = _comparison(alice), _comparison(alice, prompt="A fox in snow")
    a, b = _by_model(first), _by_model(second)
    judging.comparison_judge(
        batch=first, user=alice, winner_id=a["google/nano-banana"].pk, stars={a["google/nano-banana"].pk: 5}
    )
    judging.comparison_judge(batch=second, user=alice, winner_id=b["google/nano-banana"].pk, stars={})
    [(kind, standings)] = judging.leaderboard(workspace=workspace_of(alice)).items()
    assert kind == "Text to image"
    top, *rest = standings
    assert top.model_key == "google/nano-banana" and top.wins == 2 and top.comparisons == 2
    # Two wins over two others each: 1000 + 16 + 16 (first vote, equal ratings) and then a little less each.
    assert 1055 < top.rating < 1064 and all(s.rating < 1000 for s in rest)
    assert round(sum(s.rating for s in standings)) == 3000  # Elo moves points, it makes none
    assert top.average_stars == 5
    spent = a["google/nano-banana"].credits_estimated + b["google/nano-banana"].credits_estimated
    assert top.credits_per_win == spent / 2
    assert all(s.credits_per_win is None for s in rest)


def test_a_second_vote_replaces_the_first_and_credits_count_once(kie_sim, alice, charlie):
    team = workspace_of(alice)
    Membership.objects.create(workspace=team, user=charlie, role=Role.VIEWER)
    batch = _comparison(alice)
    g = _by_model(batch)
    judging.comparison_judge(batch=batch, user=alice, winner_id=g["google/imagen4-fast"].pk, stars={})
    judging.comparison_judge(batch=batch, user=alice, winner_id=g["google/nano-banana"].pk, stars={})
    judging.comparison_judge(batch=batch, user=charlie, winner_id=g["google/nano-banana"].pk, stars={})
    assert Judgement.objects.count() == 2
    board = judging.leaderboard(workspace=team)["Text to image"]
    nano = next(s for s in board if s.model_key == "google/nano-banana")
    assert nano.wins == 2 and nano.credits_per_win == g["google/nano-banana"].credits_estimated / 2
    # Filtered to one voter's votes.
    only_charlie = judging.leaderboard(workspace=team, member_id=charlie.pk)["Text to image"]
    assert next(s for s in only_charlie if s.model_key == "google/nano-banana").wins == 1


def test_the_leaderboard_filters_by_tag(kie_sim, alice):
    tagged, other = _comparison(alice), _comparison(alice, prompt="A fox in snow")
    t, o = _by_model(tagged), _by_model(other)
    tag, _ = tags_add(generations=[t["google/nano-banana"]], user=alice, name="client")
    judging.comparison_judge(batch=tagged, user=alice, winner_id=t["google/nano-banana"].pk, stars={})
    judging.comparison_judge(batch=other, user=alice, winner_id=o["google/imagen4-fast"].pk, stars={})
    board = judging.leaderboard(workspace=workspace_of(alice), tag_id=tag.pk)["Text to image"]
    assert {s.model_key: s.wins for s in board}["google/nano-banana"] == 1
    assert {s.model_key: s.wins for s in board}["google/imagen4-fast"] == 0


def test_bad_votes_are_refused(kie_sim, alice, charlie):
    batch = _comparison(alice)
    g = _by_model(batch)
    [theirs] = Generation.objects.filter(pk=_by_model(_comparison(alice, prompt="x"))["google/nano-banana"].pk)
    for winner, stars, message in (
        (None, {}, "Choose the best result."),
        (theirs.pk, {}, "isn't a finished part of this comparison"),
        (g["google/nano-banana"].pk, {g["google/imagen4-fast"].pk: 6}, "Stars are 1 to 5."),
        (g["google/nano-banana"].pk, {theirs.pk: 3}, "Stars can only go to"),
    ):
        with pytest.raises(BatchError, match=message):
            judging.comparison_judge(batch=batch, user=alice, winner_id=winner, stars=stars)
    assert not Judgement.objects.exists()


def test_a_blind_comparison_hides_the_names_until_the_member_votes(client, kie_sim, alice):
    batch = _comparison(alice, blind=True)
    g = _by_model(batch)
    client.force_login(alice)
    page = html.unescape(client.get(f"/batches/{batch.pk}/").content.decode())
    assert "Judge it blind" in page and "Hidden until you vote" in page
    assert "Nano Banana" not in page and "Open the comparison" not in page
    judge = html.unescape(client.get(f"/batches/{batch.pk}/judge/").content.decode())
    assert "Nano Banana" not in judge and "Imagen 4 Fast" not in judge and "Which is best?" in judge
    response = client.post(
        f"/batches/{batch.pk}/judge/",
        {"winner": g["google/imagen4-fast"].pk, f"stars-{g['google/imagen4-fast'].pk}": "4"},
    )
    assert response.status_code == 302
    judge = html.unescape(client.get(f"/batches/{batch.pk}/judge/").content.decode())
    assert "Nano Banana" in judge and "Imagen 4 Fast" in judge and "Change my vote" in judge
    assert "Open the comparison" in html.unescape(client.get(f"/batches/{batch.pk}/").content.decode())
    board = html.unescape(client.get("/batches/leaderboard/").content.decode())
    assert board.index("Imagen 4 Fast") < board.index("Nano Banana")


def test_refused_votes_and_filters_answer_plainly(client, kie_sim, alice):
    batch = _comparison(alice)
    client.force_login(alice)
    response = client.post(f"/batches/{batch.pk}/judge/", {"winner": "abc"})
    assert response.status_code == 400 and "best result" in html.unescape(response.content.decode())
    page = html.unescape(client.get("/batches/leaderboard/?tag=99999&member=abc").content.decode())
    assert "Ignored a filter" in page or "Ignored the tag filter" in page
    assert "No votes yet" in page


def test_a_batch_that_is_not_a_comparison_cannot_be_judged(client, kie_sim, alice):
    batch = Batch.objects.create(workspace=workspace_of(alice), created_by=alice, name="Boats", source="list")
    client.force_login(alice)
    for response in (client.get(f"/batches/{batch.pk}/judge/"), client.post(f"/batches/{batch.pk}/judge/")):
        assert response.status_code == 400
        assert "Only a comparison of models can be judged" in html.unescape(response.content.decode())
    assert not Judgement.objects.exists()
