"""The studio's own 404 and 500 pages with DEBUG on (make run), not Django's pages listing every route; a
developer's DEBUG_PAGES brings those back."""

from __future__ import annotations

import pytest

from kiestudio.studio.models import Generation
from tests.studio.helpers import made

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug(settings):
    settings.DEBUG = True
    settings.DEBUG_PAGES = False
    return settings


def test_an_unknown_address_is_the_studios_404(client, alice, debug):
    client.force_login(alice)
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404 and "We couldn't find that page" in html
    assert "URLconf" not in html and "kie/callback" not in html  # no list of routes


def test_another_workspaces_item_is_the_studios_404(client, alice, charlie, debug, kie_sim):
    theirs = made(charlie)
    client.force_login(alice)
    response = client.get(f"/gallery/{theirs.pk}/")
    assert response.status_code == 404 and "We couldn't find that page" in response.content.decode()
    assert theirs.prompt_text not in response.content.decode()


def test_a_failing_page_is_the_studios_500_and_is_logged(client, alice, debug, monkeypatch, caplog):
    from kiestudio.gallery import views

    def broken(*args, **kwargs):
        raise RuntimeError("the database fell over")

    monkeypatch.setattr(views, "gallery_tiles", broken)
    client.force_login(alice)
    response = client.get("/gallery/")
    html = response.content.decode()
    assert response.status_code == 500 and "Something went wrong on our side" in html
    assert "the database fell over" not in html and "Traceback" not in html
    [logged] = [r for r in caplog.records if r.name == "kiestudio.errors"]
    assert logged.levelname == "ERROR" and "/gallery/" in logged.getMessage()


def test_debug_pages_brings_djangos_pages_back(client, alice, debug):
    debug.DEBUG_PAGES = True
    client.force_login(alice)
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and "URLconf" in response.content.decode()
    assert Generation.objects.count() == 0
