"""Media on S3-compatible storage (django-storages), against a real S3 server started locally (moto in server
mode, over HTTP): results are copied into the bucket, served through short-lived signed URLs with the right
disposition, zipped, sent on to Kie for follow-ups, and purged from the bucket with the trash."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import timedelta

import boto3
import httpx
import pytest
from django.core.files.storage import storages
from django.utils import timezone

from kiestudio.gallery import services as gallery
from kiestudio.studio.models import Asset, Generation, Status
from tests.conftest import free_port
from tests.studio.helpers import create, drain

pytestmark = pytest.mark.django_db
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings, kie_sim):
    name = f"media-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, **KEYS)
    s3.create_bucket(Bucket=name)
    settings.S3_BUCKET = name
    settings.AWS_STORAGE_BUCKET_NAME = name
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_S3_ACCESS_KEY_ID = "testing"
    settings.AWS_S3_SECRET_ACCESS_KEY = "testing"
    settings.AWS_S3_CUSTOM_DOMAIN = None
    settings.AWS_DEFAULT_ACL = None
    settings.AWS_QUERYSTRING_AUTH = True
    settings.AWS_S3_FILE_OVERWRITE = False
    settings.AWS_S3_ADDRESSING_STYLE = "path"
    settings.AWS_S3_SIGNATURE_VERSION = "s3v4"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    return s3, name


def keys(s3, name) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])}


def test_results_are_copied_into_the_bucket_and_served_by_signed_url(client, alice, bucket):
    s3, name = bucket
    assert type(storages["default"]).__name__ == "S3Storage"
    [generation] = create(alice, prompt="A lighthouse at dusk")
    drain()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.failure_message
    asset = generation.assets.get()
    stored = keys(s3, name)
    assert asset.file.name in stored and asset.thumbnail.name in stored
    body = s3.get_object(Bucket=name, Key=asset.file.name)["Body"].read()
    assert len(body) == asset.size

    client.force_login(alice)
    inline = client.get(f"/files/assets/{asset.pk}/")
    assert inline.status_code == 302 and "X-Amz-Signature=" in inline["Location"]  # SigV4, short-lived
    fetched = httpx.get(inline["Location"])  # the browser follows the signed URL to the bucket
    assert fetched.status_code == 200 and fetched.content == body
    assert fetched.headers["content-type"] == asset.mime_type
    assert fetched.headers["content-disposition"].startswith("inline")
    download = httpx.get(client.get(f"/files/assets/{asset.pk}/?download=1")["Location"])
    assert download.headers["content-disposition"].startswith("attachment")
    # SVG (or HTML) never opens inline, even straight from the bucket.
    Asset.objects.filter(pk=asset.pk).update(mime_type="image/svg+xml")
    risky = httpx.get(client.get(f"/files/assets/{asset.pk}/")["Location"])
    assert risky.headers["content-disposition"].startswith("attachment")
    assert risky.headers["content-type"] == "application/octet-stream"


def test_zip_export_reads_from_the_bucket(client, alice, bucket):
    create(alice, prompt="One")
    create(alice, "suno/V5", prompt="A calm piano piece", customMode=False, instrumental=False)
    drain()
    client.force_login(alice)
    ids = list(Generation.objects.values_list("pk", flat=True))
    response = client.post("/gallery/bulk/zip/", {"ids": ids})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    files = [n for n in archive.namelist() if n != "metadata.json"]
    assert len(files) == 3  # the image, and the song's two tracks together in one folder
    sizes = sorted(Asset.objects.values_list("size", flat=True))
    assert sorted(archive.getinfo(n).file_size for n in files) == sizes


def test_a_follow_up_sends_the_stored_file_from_the_bucket_to_kie(alice, bucket, kie_sim):
    from kiestudio.kie.catalog import get_model
    from kiestudio.kie.catalog.actions import get_action
    from kiestudio.studio import services

    [image] = create(alice, prompt="A fox")
    drain()
    image.refresh_from_db()
    asset = image.assets.get()
    action, spec = get_action("upscale"), get_model("topaz/image-upscale")
    plan = services.followup_plan(
        generation=image, asset=asset, action=action, spec=spec, raw_inputs={"upscale_factor": "2"}
    )
    child = services.followup_create(
        generation=image, asset=asset, action=action, plan=plan, user=alice, form_token=uuid.uuid4()
    )
    drain()
    child.refresh_from_db()
    assert child.status == Status.SUCCEEDED, child.failure_message
    assert len(kie_sim.log.of_kind("upload")) == 1 and Asset.objects.get(pk=asset.pk).kie_url


def test_purging_the_trash_deletes_the_objects(alice, bucket):
    s3, name = bucket
    [generation] = create(alice, prompt="Gone soon")
    drain()
    generation.refresh_from_db()
    asset = generation.assets.get()
    assert asset.file.name in keys(s3, name)
    gallery.generations_trash(generations=[generation], user=alice)
    Generation.objects.filter(pk=generation.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    assert gallery.trash_purge() == 1
    assert keys(s3, name) == set()
