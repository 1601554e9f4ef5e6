"""Share links: unguessable and hashed, expiring, revocable, password-throttled, and scoped to what was shared."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date, timedelta
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kiestudio.gallery.services import collection_add
from kiestudio.sharing import services
from kiestudio.sharing.models import Share
from kiestudio.studio.services.trash import generations_trash
from kiestudio.workspaces.models import AuditEvent, Membership, Role
from tests.sharing.helpers import make_collection, make_comparison, make_item, share
from tests.studio.helpers import workspace_of

pytestmark = pytest.mark.django_db


def visitor(**defaults) -> Client:
    """A browser without an account (a fresh session)."""
    return Client(**defaults)


def _page(client, token: str, **extra):
    return client.get(reverse("share-page", args=[token]), **extra)


def _media(token: str, asset) -> str:
    return reverse("share-media", args=[token, asset.pk])


# --- Tokens ---------------------------------------------------------------------------------------------------


def test_token_is_long_random_and_only_its_hash_and_ciphertext_are_stored(alice):
    item = make_item(alice)
    tokens = [share(alice, item).token for _ in range(20)]
    assert len(set(tokens)) == 20
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
        row = Share.objects.get(token_hash=hashlib.sha256(token.encode()).hexdigest())
        stored = " ".join(str(v) for v in Share.objects.filter(pk=row.pk).values().get().values())
        assert token not in stored  # the database alone can't open the link
        assert row.token == token  # but the sharer can copy it again
    # A link made from the hash is no link.
    assert _page(visitor(), row.token_hash).status_code == 404


# --- Expiry, revoke, trash: one 404 for all, the same as a token that never existed ----------------------------


def test_revoked_expired_trashed_and_unknown_links_are_the_same_404(client, alice):
    live, revoked, expired, trashed = (make_item(alice, f"Item {n}") for n in range(4))
    live_token = share(alice, live).token
    revoked_new = share(alice, revoked)
    services.share_revoke(share=revoked_new.share, actor=alice)
    expired_token = share(alice, expired, expires_at=timezone.now() + timedelta(days=1)).token
    Share.objects.filter(generation=expired).update(expires_at=timezone.now() - timedelta(seconds=1))
    trashed_token = share(alice, trashed).token
    generations_trash(generations=[trashed], user=alice)

    anon = visitor()
    assert _page(anon, live_token).status_code == 200
    unknown = _page(anon, "x" * 32)
    assert unknown.status_code == 404
    for token in (revoked_new.token, expired_token, trashed_token):
        response = _page(anon, token)
        assert response.status_code == 404
        assert response.content == unknown.content
    body = unknown.content.decode()
    assert "Item" not in body and "revoked" not in body.lower() and "expired" not in body.lower()
    assert "<script" not in body


def test_expiry_choices_and_dates(alice, client):
    today = date(2026, 12, 3)
    assert services.expiry_at(expiry="never", on=None) is None
    for days in ("1", "7", "30"):
        at = services.expiry_at(expiry=days, on=None)
        assert at is not None and abs((at - timezone.now()) - timedelta(days=int(days))) < timedelta(seconds=5)
    end = services.expiry_at(expiry="date", on=date(2026, 12, 10), today=today)
    assert end is not None and timezone.localtime(end).date() == date(2026, 12, 11)
    for bad in ("2", "365", "", "forever"):
        with pytest.raises(services.ShareError) as refused:
            services.expiry_at(expiry=bad, on=None)
        assert refused.value.field == "expiry"
    for day in (today, today - timedelta(days=1)):
        with pytest.raises(services.ShareError, match="after today"):
            services.expiry_at(expiry="date", on=day, today=today)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2020-01-01", "The last day must be after today."),
        ("next tuesday", "The last day must be a date written YYYY-MM-DD."),
        ("2027-02-30", "The last day isn't a real date."),
        ("9999-12-31", "The last day must be between"),
        ("", "Pick the last day the link works."),
    ],
)
def test_a_bad_expiry_date_is_refused_beside_the_field(client, alice, value, message):
    item = make_item(alice)
    client.force_login(alice)
    data = {"kind": "item", "id": item.pk, "access": "anyone", "expiry": "date", "expiry_date": value}
    response = client.post(reverse("share-new"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    html = response.content.decode()
    errors = re.search(r'<ul class="field-errors" id="id_expiry_date_error">(.*?)</ul>', html, re.S)
    assert errors and message in unescape(errors.group(1)), html
    assert not Share.objects.exists()


def test_an_expired_link_stops_at_its_time(alice):
    item = make_item(alice)
    new = share(alice, item, expires_at=timezone.now() + timedelta(minutes=1))
    anon = visitor()
    assert _page(anon, new.token).status_code == 200
    Share.objects.filter(pk=new.share.pk).update(expires_at=timezone.now())
    assert _page(anon, new.token).status_code == 404
    assert anon.get(_media(new.token, item.assets.get())).status_code == 404


def test_trashed_items_leave_a_collection_share_and_their_files(alice):
    kept, binned = make_item(alice, "Kept one"), make_item(alice, "Binned one")
    collection = make_collection(alice, [kept, binned])
    new = share(alice, collection, kind="collection", show_prompt=True)
    anon = visitor()
    page = _page(anon, new.token).content.decode()
    assert "Kept one" in page and "Binned one" in page
    generations_trash(generations=[binned], user=alice)
    page = _page(anon, new.token).content.decode()
    assert "Kept one" in page and "Binned one" not in page
    assert anon.get(_media(new.token, binned.assets.get())).status_code == 404
    assert anon.get(_media(new.token, kept.assets.get())).status_code == 200


def test_files_are_served_only_for_what_was_shared(alice, charlie):
    shared, other = make_item(alice, "Shared"), make_item(alice, "Not shared")
    foreign = make_item(charlie, "Charlie's")
    new = share(alice, shared)
    anon = visitor()
    response = anon.get(_media(new.token, shared.assets.get()))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    for asset in (other.assets.get(), foreign.assets.get()):
        assert anon.get(_media(new.token, asset)).status_code == 404
        assert anon.get(reverse("share-thumb", args=[new.token, asset.pk])).status_code == 404
    # A comparison's share reaches its results only.
    a, b = make_item(alice, "Fox A"), make_item(alice, "Fox B")
    comparison = share(alice, make_comparison(alice, [a, b]), kind="comparison")
    assert anon.get(_media(comparison.token, a.assets.get())).status_code == 200
    assert anon.get(_media(comparison.token, shared.assets.get())).status_code == 404


# --- Password -------------------------------------------------------------------------------------------------


def test_a_password_link_opens_with_its_password_and_remembers_the_visitor(alice):
    item = make_item(alice)
    new = share(alice, item, password="tangerine")
    anon = visitor()
    locked = _page(anon, new.token)
    assert locked.status_code == 200 and b"Enter the password" in locked.content
    assert b"og:image" not in locked.content and b"share-media" not in locked.content
    assert anon.get(_media(new.token, item.assets.get())).status_code == 404
    wrong = anon.post(reverse("share-page", args=[new.token]), {"password": "lemon"})
    assert wrong.status_code == 403 and "That password isn't right." in unescape(wrong.content.decode())
    right = anon.post(reverse("share-page", args=[new.token]), {"password": "tangerine"})
    assert right.status_code == 302
    assert _page(anon, new.token).status_code == 200
    assert b"Enter the password" not in _page(anon, new.token).content
    assert anon.get(_media(new.token, item.assets.get())).status_code == 200
    assert Share.objects.get().password_hash != "tangerine"
    assert visitor().get(_media(new.token, item.assets.get())).status_code == 404  # another visitor


def test_wrong_passwords_are_throttled_per_link_and_client(alice):
    item = make_item(alice)
    new, other = share(alice, item, password="tangerine"), share(alice, item, password="tangerine")
    url = reverse("share-page", args=[new.token])
    anon = visitor()
    for _ in range(services.PASSWORD_TRIES):
        assert anon.post(url, {"password": "guess"}).status_code == 403
    throttled = anon.post(url, {"password": "guess"})
    assert throttled.status_code == 429
    assert b"Too many wrong passwords for this link. Try again in 10 minutes." in throttled.content
    # Even the right password waits, from this client...
    assert anon.post(url, {"password": "tangerine"}).status_code == 429
    # ...but another client, or another link, is not held up.
    assert visitor(REMOTE_ADDR="10.0.0.9").post(url, {"password": "tangerine"}).status_code == 302
    other_url = reverse("share-page", args=[other.token])
    assert anon.post(other_url, {"password": "tangerine"}).status_code == 302


# --- What the page shows --------------------------------------------------------------------------------------


def test_downloads_exist_only_when_allowed(alice):
    item = make_item(alice, "A lighthouse at dusk, oil painting")
    asset = item.assets.get()
    closed, open_ = share(alice, item), share(alice, item, allow_download=True)
    anon = visitor()
    assert anon.get(reverse("share-download", args=[closed.token, asset.pk])).status_code == 404
    assert b"share-download" not in _page(anon, closed.token).content
    assert b"/download/" not in _page(anon, closed.token).content
    response = anon.get(reverse("share-download", args=[open_.token, asset.pk]))
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"kie-studio-{item.pk}-1.png" in disposition
    assert "lighthouse" not in disposition  # the prompt stays hidden, in the file name too
    assert reverse("share-download", args=[open_.token, asset.pk]) in _page(anon, open_.token).content.decode()
    with_prompt = share(alice, item, allow_download=True, show_prompt=True)
    named = anon.get(reverse("share-download", args=[with_prompt.token, asset.pk]))
    assert f"a-lighthouse-at-dusk-oil-painting-{item.pk}-1.png" in named["Content-Disposition"]


def test_the_prompt_shows_only_when_ticked(alice):
    item = make_item(alice, "A secret prompt about a lighthouse")
    anon = visitor()
    hidden = _page(anon, share(alice, item).token).content.decode()
    assert "secret prompt" not in hidden
    shown = _page(anon, share(alice, item, show_prompt=True).token).content.decode()
    assert "A secret prompt about a lighthouse" in shown
    # The dialog's box is unticked by default.
    client = visitor()
    client.force_login(alice)
    dialog = client.get(reverse("share-new"), {"kind": "item", "id": item.pk}).content.decode()
    assert re.search(r'<input type="checkbox" name="show_prompt"(?![^>]*checked)[^>]*>', dialog)


def test_open_graph_tags_name_absolute_share_scoped_urls(alice):
    item = make_item(alice)
    new = share(alice, item)
    html = _page(visitor(), new.token).content.decode()
    tags = dict(re.findall(r'<meta (?:property|name)="((?:og|twitter):[a-z_]+)" content="([^"]*)"', html))
    page_url = f"http://testserver{reverse('share-page', args=[new.token])}"
    assert tags["og:url"] == page_url
    assert tags["og:image"] == f"http://testserver{_media(new.token, item.assets.get())}"
    assert tags["og:type"] == "website" and tags["og:title"] and tags["og:description"]
    assert tags["twitter:card"] == "summary_large_image" and tags["twitter:image"] == tags["og:image"]
    assert "<script" not in html and "htmx" not in html and "app.js" not in html
    assert visitor().get(tags["og:image"].removeprefix("http://testserver")).status_code == 200


def test_a_comparison_shows_each_model_in_order(alice):
    a = make_item(alice, "A fox", model="google/nano-banana")
    b = make_item(alice, "A fox", model="flux-kontext/pro")
    html = _page(visitor(), share(alice, make_comparison(alice, [a, b]), kind="comparison").token).content.decode()
    assert "A comparison of 2 models" in html
    assert html.index(_media("x", a.assets.get()).split("/media/")[1]) > 0
    assert html.index(f"/media/{a.assets.get().pk}/") < html.index(f"/media/{b.assets.get().pk}/")


# --- Views and the audit log ----------------------------------------------------------------------------------


def test_views_are_counted_and_logged_once_per_visitor(alice):
    item = make_item(alice)
    new = share(alice, item)
    first, second = visitor(), visitor()
    for _ in range(3):
        _page(first, new.token)
    _page(second, new.token)
    assert Share.objects.get().view_count == 4
    viewed = AuditEvent.objects.filter(action=services.VIEWED).order_by("pk")
    assert [e.details["views"] for e in viewed] == [1, 4]
    assert all(e.actor is None and e.target == f"item #{item.pk}" for e in viewed)


def test_sharing_and_revoking_are_in_the_audit_log_in_words(client, alice):
    item = make_item(alice)
    client.force_login(alice)
    data = {"kind": "item", "id": item.pk, "access": "password", "password": "tangerine", "expiry": "1"}
    response = client.post(reverse("share-new"), {**data, "allow_download": "on"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    new = Share.objects.get()
    assert reverse("share-page", args=[new.token]) in response.content.decode()
    assert new.has_password and new.allow_download and not new.show_prompt
    assert new.expires_at and timedelta(hours=23) < new.expires_at - timezone.now() <= timedelta(days=1)
    revoke = client.post(reverse("share-revoke", args=[new.pk]))
    assert revoke.status_code == 302 and Share.objects.get().revoked_at is not None
    assert _page(visitor(), new.token).status_code == 404
    audit = client.get(reverse("audit")).content.decode()
    assert f"Shared a link: <strong>item #{item.pk}</strong>" in audit
    assert f"Revoked a share link: <strong>item #{item.pk}</strong>" in audit
    assert "access: password" in audit and "downloads: allowed" in audit and "prompt: hidden" in audit


def test_the_list_shows_live_links_with_copy_and_revoke(client, alice):
    item = make_item(alice)
    live = share(alice, make_collection(alice, [item], name="Moodboard"), kind="collection", password="p4ss")
    gone = share(alice, item)
    services.share_revoke(share=gone.share, actor=alice)
    client.force_login(alice)
    html = client.get(reverse("shares")).content.decode()
    assert "Collection “Moodboard”" in html and reverse("share-page", args=[live.token]) in html
    assert reverse("share-page", args=[gone.token]) not in html
    assert reverse("share-revoke", args=[live.share.pk]) in html
    settings_page = client.get(reverse("settings")).content.decode()
    assert reverse("shares") in settings_page


# --- Who may share what ---------------------------------------------------------------------------------------


def test_another_workspaces_things_cant_be_shared(client, alice, charlie):
    item, collection = make_item(charlie), make_collection(charlie, [])
    batch = make_comparison(charlie, [item])
    client.force_login(alice)
    for kind, target in (("item", item), ("collection", collection), ("comparison", batch)):
        assert client.get(reverse("share-new"), {"kind": kind, "id": target.pk}).status_code == 404
        data = {"kind": kind, "id": target.pk, "access": "anyone", "expiry": "7"}
        assert client.post(reverse("share-new"), data).status_code == 404
    theirs = share(charlie, item)
    assert client.post(reverse("share-revoke", args=[theirs.share.pk])).status_code == 404
    assert Share.objects.get().revoked_at is None and Share.objects.count() == 1


def test_viewers_may_not_share(client, alice, make_user):
    viewer = make_user("vera@example.com", personal=False)
    Membership.objects.create(workspace=workspace_of(alice), user=viewer, role=Role.VIEWER)
    item = make_item(alice)
    mine = share(alice, item)
    client.force_login(viewer)
    assert client.get(reverse("share-new"), {"kind": "item", "id": item.pk}).status_code == 403
    data = {"kind": "item", "id": item.pk, "access": "anyone", "expiry": "7"}
    assert client.post(reverse("share-new"), data).status_code == 403
    assert client.get(reverse("shares")).status_code == 403
    assert client.post(reverse("share-revoke", args=[mine.share.pk])).status_code == 403
    assert Share.objects.count() == 1 and Share.objects.get().revoked_at is None
    detail = client.get(reverse("gallery-detail", args=[item.pk])).content.decode()
    assert reverse("share-new") not in detail


@pytest.mark.parametrize(
    ("kind", "message"),
    [("album", "Choose what to share: an item, a collection or a comparison."), ("", "This field is required.")],
)
def test_an_unknown_kind_is_refused_with_a_message(client, alice, kind, message):
    item = make_item(alice)
    client.force_login(alice)
    data = {"kind": kind, "id": item.pk, "access": "anyone", "expiry": "7"}
    response = client.post(reverse("share-new"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and message in response.content.decode()
    assert client.get(reverse("share-new"), {"kind": kind, "id": item.pk}).status_code == 400
    assert not Share.objects.exists()


def test_only_comparisons_finished_items_and_untrashed_items_are_shared(client, alice):
    item = make_item(alice)
    batch = make_comparison(alice, [item], source="list")
    client.force_login(alice)
    response = client.get(reverse("share-new"), {"kind": "comparison", "id": batch.pk})
    assert response.status_code == 400 and "Only a comparison of models can be shared" in response.content.decode()
    generations_trash(generations=[item], user=alice)
    data = {"kind": "item", "id": item.pk, "access": "anyone", "expiry": "7"}
    response = client.post(reverse("share-new"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "restore it to share it" in response.content.decode()
    response = client.post(reverse("share-new"), {**data, "access": "password"}, HTTP_HX_REQUEST="true")
    assert "Set a password, or let anyone with the link open it." in response.content.decode()
    assert not Share.objects.exists()


def test_share_buttons_on_the_item_the_collection_and_the_comparison(client, alice):
    item = make_item(alice)
    collection = make_collection(alice, [item])
    collection_add(collection=collection, generations=[item], user=alice)
    batch = make_comparison(alice, [item, make_item(alice, "B")])
    client.force_login(alice)
    new = reverse("share-new")
    assert f"{new}?kind=item&amp;id={item.pk}" in client.get(reverse("gallery-detail", args=[item.pk])).content.decode()
    page = client.get(reverse("collection", args=[collection.pk])).content.decode()
    assert f"{new}?kind=collection&amp;id={collection.pk}" in page
    assert f"{new}?kind=comparison&amp;id={batch.pk}" in client.get(reverse("batch", args=[batch.pk])).content.decode()
