"""The Queue page: what it shows, the changes members make from it, and who may make them."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from kiestudio.kie.catalog import get_model
from kiestudio.studio import services
from kiestudio.studio.models import Generation, Status
from kiestudio.studio.services.queue import queued
from kiestudio.usage.models import Hold
from kiestudio.workspaces.models import Membership, Role
from kiestudio.workspaces.services import workspace_create
from tests.studio.helpers import create, drain, workspace_of

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def order(user) -> list[int]:
    return [g.pk for g in queued(workspace_of(user))]


def pause(client):
    return client.post(reverse("queue-pause"), **HTMX)


def test_the_page_lists_what_waits_in_order_with_who_and_when(client, alice):
    client.force_login(alice)
    first, second = create(alice, variations=2, prompt="A red fox in the snow")
    html = client.get(reverse("queue")).content.decode()
    assert "<h1>Queue</h1>" in html and "The queue is on" in html and "Pause queue" in html
    assert "Waiting" in html and "Nano Banana" in html and "A red fox in the snow" in html and "· you" in html
    assert re.search(r"Number </span>1<", html) and re.search(r"Number </span>2<", html)
    assert "Starts <strong>any moment</strong>" in html and "Done <strong>in ~" in html
    assert "canceling one is free" in html
    # Move up is disabled on the first row, Move down on the last.
    up = re.search(rf'id="queue-up-{first.pk}"[^>]*>', html).group(0)
    down = re.search(rf'id="queue-down-{second.pk}"[^>]*>', html).group(0)
    assert "disabled" in up and "disabled" in down
    assert "disabled" not in re.search(rf'id="queue-up-{second.pk}"[^>]*>', html).group(0)
    # The list refreshes itself: the page polls its own partial.
    assert f'hx-get="{reverse("queue")}" hx-trigger="every 3s"' in html


def test_running_jobs_show_their_status_and_estimated_finish(client, alice):
    client.force_login(alice)
    [generation] = create(alice, prompt="At Kie now")
    Generation.objects.filter(pk=generation.pk).update(status=Status.SUBMITTED, submitted_at=generation.created_at)
    html = client.get(reverse("queue")).content.decode()
    assert "Running" in html and "Generating" in html and "Started " in html and " ago" in html
    assert "Done <strong>" in html and "queue-waiting-heading" not in html


def test_an_empty_queue_says_so_and_links_to_generate(client, alice):
    client.force_login(alice)
    html = client.get(reverse("queue")).content.decode()
    assert "Nothing is waiting or running." in html and f'href="{reverse("generate")}"' in html


def test_the_poll_answers_the_list_alone_with_the_navs_count(client, alice):
    client.force_login(alice)
    create(alice, variations=3)
    html = client.get(reverse("queue"), **HTMX).content.decode()
    assert "<html" not in html and 'id="queue"' in html
    assert re.search(r'id="queue-badge"[^>]* hx-swap-oob="true"><span class="visually-hidden">, </span>3<', html)


def test_the_nav_shows_how_many_wait_or_run(client, alice):
    client.force_login(alice)
    html = client.get(reverse("gallery")).content.decode()
    assert f'href="{reverse("queue")}"' in html and re.search(r'id="queue-badge"[^>]* hidden>', html)
    create(alice, variations=2)
    html = client.get(reverse("gallery")).content.decode()
    assert re.search(r'id="queue-badge"[^>]*"><span class="visually-hidden">, </span>2<', html)


def test_the_results_column_links_to_the_queue(client, alice):
    client.force_login(alice)
    html = client.get(reverse("generate")).content.decode()
    assert re.search(rf'<a class="small section-link" href="{reverse("queue")}">Queue</a>', html)


def test_pause_and_resume_change_the_state_shown(client, alice):
    client.force_login(alice)
    response = pause(client)
    assert response.status_code == 200
    html = response.content.decode()
    assert "The queue is paused" in html and "Resume queue" in html and "Queue paused" in html  # the toast
    assert workspace_of(alice).queue_paused_at is not None
    create(alice)
    assert 'status-paused">Paused<' in client.get(reverse("queue")).content.decode()
    html = client.post(reverse("queue-resume"), **HTMX).content.decode()
    assert "The queue is on" in html and "Pause queue" in html and "Queue resumed" in html
    assert workspace_of(alice).queue_paused_at is None


def test_without_javascript_a_change_redirects_back_with_its_message(client, alice):
    client.force_login(alice)
    response = client.post(reverse("queue-pause"), follow=True)
    assert response.redirect_chain == [(reverse("queue"), 302)]
    assert "Queue paused" in response.content.decode()


def test_move_up_and_down(client, alice):
    client.force_login(alice)
    a, b, c = create(alice, variations=3, prompt="Three foxes")
    response = client.post(reverse("queue-move", args=[c.pk]), {"direction": "up"}, **HTMX)
    assert response.status_code == 200 and order(alice) == [a.pk, c.pk, b.pk]
    assert "Moved “Three foxes” up." in response.content.decode()
    client.post(reverse("queue-move", args=[a.pk]), {"direction": "down"}, **HTMX)
    assert order(alice) == [c.pk, a.pk, b.pk]
    response = client.post(reverse("queue-move", args=[c.pk]), {"direction": "up"}, **HTMX)
    assert response.status_code == 200 and "already first" in response.content.decode()
    response = client.post(reverse("queue-move", args=[c.pk]), {"direction": "sideways"}, **HTMX)
    assert response.status_code == 400 and order(alice) == [c.pk, a.pk, b.pk]


def test_moving_a_job_that_no_longer_waits_says_why(client, alice, kie_sim):
    client.force_login(alice)
    [generation] = create(alice)
    drain()
    response = client.post(reverse("queue-move", args=[generation.pk]), {"direction": "up"}, **HTMX)
    assert response.status_code == 409
    assert "no longer waiting" in response.content.decode()
    response = client.post(reverse("queue-move", args=[generation.pk]), {"direction": "up"}, follow=True)
    assert "no longer waiting" in response.content.decode()


def test_cancel_from_the_queue_is_free_and_sends_nothing(client, alice, kie_sim):
    client.force_login(alice)
    pause(client)
    [generation] = create(alice, prompt="Never mind")
    response = client.post(reverse("queue-cancel", args=[generation.pk]), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "never sent to Kie, so nothing is charged" in html
    assert "Nothing is waiting or running." in html
    generation.refresh_from_db()
    assert generation.status == Status.CANCELED and not Hold.objects.exists()
    client.post(reverse("queue-resume"), **HTMX)
    drain()
    assert kie_sim.log.of_kind("create") == []
    response = client.post(reverse("queue-cancel", args=[generation.pk]), **HTMX)
    assert response.status_code == 409 and "no longer waiting" in response.content.decode()


@pytest.mark.parametrize("name", ["queue-move", "queue-cancel"])
def test_another_workspaces_job_is_404(client, alice, charlie, name):
    [generation] = create(alice)
    client.force_login(charlie)
    response = client.post(reverse(name, args=[generation.pk]), {"direction": "down"}, **HTMX)
    assert response.status_code == 404
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED
    assert charlie_sees_nothing(client, generation)


def charlie_sees_nothing(client, generation) -> bool:
    html = client.get(reverse("queue")).content.decode()
    return "Nothing is waiting or running." in html and generation.prompt_text not in html


def test_a_viewer_watches_but_cannot_change_the_queue(client, alice, charlie):
    team = workspace_create(name="Crew", owner=alice)
    Membership.objects.create(workspace=team, user=charlie, role=Role.VIEWER)
    spec = get_model("google/nano-banana")
    plan = services.generation_plan(spec=spec, raw_inputs={"prompt": "The crew's job"}, variations=1)
    [generation] = services.generation_create(workspace=team, user=alice, plan=plan, form_token=uuid.uuid4())
    client.force_login(charlie)
    client.post(reverse("workspace-switch"), {"workspace": team.pk})
    html = client.get(reverse("queue")).content.decode()
    assert "The crew&#x27;s job" in html and "You're a viewer here" in html
    assert "Pause queue" not in html and "Move up" not in html and "Cancel" not in html
    for url, data in [
        (reverse("queue-pause"), {}),
        (reverse("queue-resume"), {}),
        (reverse("queue-move", args=[generation.pk]), {"direction": "down"}),
        (reverse("queue-cancel", args=[generation.pk]), {}),
    ]:
        assert client.post(url, data, **HTMX).status_code == 403, url
    team.refresh_from_db()
    assert team.queue_paused_at is None
    assert Generation.objects.get(pk=generation.pk).status == Status.QUEUED
