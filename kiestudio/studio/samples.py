"""Samples of a model's choices (a voice), fetched once from where the catalog says they are and kept in our
storage: the browser plays our copy, so it never calls a third party, and a sample is fetched once for everyone."""

from __future__ import annotations

import hashlib
import tempfile

import httpx
from django.core.files import File
from django.core.files.storage import default_storage

from kiestudio.core.fetch import BlockedURL, FetchError, fetch_to_file
from kiestudio.kie.catalog import FieldSpec

MAX_SAMPLE_BYTES = 4 * 1024 * 1024
SAMPLE_TIMEOUT = 15.0
AUDIO_TYPES = ("audio/", "application/octet-stream")


class SampleUnavailable(Exception):
    """The sample can't be had now (no network, the host refused, not audio); the message says so plainly."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


def sample_name(field: FieldSpec, value: str) -> str:
    url = field.preview.format(value=value)
    return f"samples/{hashlib.sha256(url.encode()).hexdigest()[:32]}.mp3"


def sample_fetch(*, field: FieldSpec, value: str) -> str:
    """The storage name of the sample of ``value`` (a choice of ``field``), fetched first if we don't have it."""
    if not field.preview or value not in {str(choice) for choice in field.choices}:
        raise SampleUnavailable("There is no sample for that choice.", status=404)
    name = sample_name(field, value)
    if default_storage.exists(name):
        return name
    url = field.preview.format(value=value)
    with tempfile.TemporaryFile() as handle:
        try:
            fetched = fetch_to_file(url, handle, max_bytes=MAX_SAMPLE_BYTES, timeout=SAMPLE_TIMEOUT)
        except (BlockedURL, FetchError, httpx.HTTPError) as exc:
            raise SampleUnavailable("The sample can't be fetched right now.") from exc
        if not fetched.content_type.startswith(AUDIO_TYPES) or not fetched.size:
            raise SampleUnavailable("The sample can't be fetched right now.")
        handle.seek(0)
        return default_storage.save(name, File(handle))
