"""Files and references: serving stored results and uploads, and the pictures, clips and sounds given to a model
(uploads, picks from the gallery, their chips)."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from kiestudio.core.params import BadParameter, parse_int
from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.studio import services
from kiestudio.studio.files import download_name
from kiestudio.studio.models import Asset
from kiestudio.studio.samples import SampleUnavailable, sample_fetch
from kiestudio.uploads import services as uploads
from kiestudio.uploads.models import Reference
from kiestudio.uploads.services import UploadRejected, reference_create
from kiestudio.workspaces.access import (
    current_workspace,
    get_for_workspace,
    require_role,
    scoped,
)

INPUT_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")  # a form input's name, as a reference chip's hidden input has it
SAFE_INLINE_TYPES = {
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-matroska",
    "audio/mpeg",
    "audio/wav",
    "audio/ogg",
    "audio/flac",
    "audio/aac",
    "audio/mp4",
}


def _serve(stored_file, mime_type: str, *, download: bool, filename: str) -> HttpResponseBase:
    if not stored_file:
        raise Http404("No file")
    inline = not download and mime_type in SAFE_INLINE_TYPES
    if settings.S3_BUCKET:
        # Signed, short-lived URL straight from the bucket.
        return HttpResponseRedirect(
            stored_file.storage.url(
                stored_file.name,
                parameters={
                    "ResponseContentDisposition": f'{"inline" if inline else "attachment"}; filename="{filename}"',
                    "ResponseContentType": mime_type if inline else "application/octet-stream",
                },
            )
        )
    try:
        handle = stored_file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("File missing") from exc
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=filename,
        content_type=mime_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_GET
@login_required
def asset_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    asset = get_for_workspace(request, Asset.objects.select_related("generation"), pk=pk)
    name = download_name(asset.generation, asset)
    return _serve(asset.file, asset.mime_type, download=request.GET.get("download") == "1", filename=name)


@require_GET
@login_required
def asset_thumbnail(request: HttpRequest, pk: int) -> HttpResponseBase:
    asset = get_for_workspace(request, Asset, pk=pk)
    if not asset.thumbnail:
        return asset_file(request, pk)
    return _serve(asset.thumbnail, "image/webp", download=False, filename=f"thumb-{asset.pk}.webp")


@require_GET
@login_required
def reference_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    reference = get_for_workspace(request, Reference, pk=pk)
    return _serve(reference.file, reference.mime_type, download=False, filename=f"reference-{reference.pk}")


@require_GET
@login_required
def reference_poster(request: HttpRequest, pk: int) -> HttpResponseBase:
    """A video reference's first frame; a picture is its own."""
    reference = get_for_workspace(request, Reference, pk=pk)
    if not reference.poster:
        return reference_file(request, pk)
    return _serve(reference.poster, "image/webp", download=False, filename=f"reference-{reference.pk}.webp")


def _reference_json(reference: Reference) -> dict[str, object]:
    """An upload or pick's answer: the reference, and where static/js/references.js asks for its chip."""
    return {
        "id": reference.pk,
        "chip": reverse("reference-chip", args=[reference.pk]),
        "kind": reference.kind,
        "thumb": reverse("reference-poster" if reference.poster else "reference-file", args=[reference.pk]),
        "src": reverse("reference-file", args=[reference.pk]),
        "width": reference.width,
        "height": reference.height,
        "duration": reference.duration,
        "clock": uploads.clock(reference.duration),
        "label": reference.label,
    }


def _media_request(request: HttpRequest) -> tuple[str, uploads.MediaRules]:
    """The kind of file a drop zone takes, and the rules of the model input it belongs to (or the defaults)."""
    params = request.POST if request.method == "POST" else request.GET
    kind = params.get("kind") or "image"
    if kind not in uploads.DEFAULT_RULES:
        kind = "image"
    return kind, uploads.rules_for(kind, params.get("model") or None, params.get("field") or None)


@require_POST
@login_required
@require_role("member")
def reference_upload(request: HttpRequest) -> HttpResponse:
    kind, rules = _media_request(request)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": f"Choose {uploads.NOUNS[kind][0]} to upload."}, status=400)
    try:
        reference = reference_create(
            workspace=current_workspace(request), user=request.user, upload=upload, kind=kind, rules=rules
        )
    except UploadRejected as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(_reference_json(reference))


@require_GET
@login_required
def reference_picker(request: HttpRequest) -> HttpResponse:
    """Recent uploads and results of the drop zone's kind, to pick without uploading again. One that doesn't fit
    the model's limits says why instead of being picked."""
    kind, rules = _media_request(request)
    references = list(scoped(request, Reference).filter(kind=kind).order_by("-created_at", "-pk")[:24])
    assets = list(
        scoped(request, Asset)
        .filter(kind=kind, generation__deleted_at__isnull=True)
        .select_related("generation")
        .order_by("-created_at", "-pk")[:24]
    )
    items: list[Reference | Asset] = [*references, *assets]
    for item in items:  # three attributes only the picker's template reads
        item.problem = uploads.reference_problem(item, rules)  # type: ignore[union-attr]
        item.clock = uploads.clock(item.duration)  # type: ignore[union-attr]
        item.name = uploads.display_name(item).strip("“”")  # type: ignore[union-attr]
    return render(
        request,
        "studio/_reference_picker.html",
        {
            "references": references,
            "images": assets,
            "kind": kind,
            "noun": uploads.NOUNS[kind],
            "field": request.GET.get("field", ""),
        },
    )


@require_POST
@login_required
@require_role("member")
def reference_from_asset(request: HttpRequest, pk: int) -> HttpResponse:
    asset = get_for_workspace(request, Asset, pk=pk)
    kind, rules = _media_request(request)
    try:
        reference = services.reference_from_asset(asset=asset, user=request.user, kind=kind, rules=rules)
    except UploadRejected as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    if problem := uploads.reference_problem(reference, rules):
        return JsonResponse({"error": problem}, status=400)
    return JsonResponse(_reference_json(reference))


@require_GET
@login_required
def reference_chip(request: HttpRequest, pk: int) -> HttpResponse:
    """A picked reference as its drop zone lists it, the same partial the form renders for the ones it starts with:
    static/js/references.js asks for it with the zone's input name and the chip's place in the list."""
    reference = get_for_workspace(request, Reference, pk=pk)
    name = request.GET.get("name", "")
    if not INPUT_NAME.fullmatch(name):
        raise BadParameter("name", "The input name must be letters, digits, _ or -.")
    context = {
        "ref": reference,
        "kind": reference.kind,
        "name": name,
        "noun": uploads.NOUNS[reference.kind][2],
        "n": parse_int(request.GET.get("n"), name="position", minimum=1, maximum=999),
    }
    return render(request, "studio/widgets/_reference_chip.html", context)


@require_GET
@login_required
def choice_sample(request: HttpRequest, model: str, field: str) -> HttpResponseBase:
    """A sample of one choice of a model's field (a voice), from our storage; fetched there the first time."""
    try:
        spec = get_model(model)
    except UnknownModel:
        raise Http404("No such model") from None
    found = next((f for f in spec.fields if f.name == field and f.preview), None)
    if found is None:
        raise Http404("No samples for this setting")
    try:
        name = sample_fetch(field=found, value=request.GET.get("value", ""))
    except SampleUnavailable as exc:
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain")
    response = FileResponse(default_storage.open(name, "rb"), content_type="audio/mpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response
