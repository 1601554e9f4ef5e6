"""The prompt library: every prompt used is recorded once per workspace; members may name and keep them."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from kiestudio.studio.models import (
    Prompt,
)
from kiestudio.studio.services.plan import GenerationError
from kiestudio.workspaces.models import Workspace

# --- Prompts ------------------------------------------------------------------------------------------------


def prompt_record(*, workspace: Workspace, user, text: str) -> Prompt | None:
    """Remember a typed prompt, de-duplicated per workspace (whitespace-insensitive)."""
    clean = Prompt.normalise(text)
    if not clean:
        return None
    digest = Prompt.hash_text(clean)
    now = timezone.now()
    updated = Prompt.objects.filter(workspace=workspace, text_hash=digest).update(
        use_count=F("use_count") + 1, last_used_at=now
    )
    if not updated:
        try:
            with transaction.atomic():
                return Prompt.objects.create(
                    workspace=workspace, text=text.strip(), text_hash=digest, created_by=user, use_count=1
                )
        except IntegrityError:
            pass
    return Prompt.objects.get(workspace=workspace, text_hash=digest)


def prompt_save(*, prompt: Prompt, user, name: str) -> Prompt:
    name = name.strip()[:80]
    if not name:
        raise GenerationError("Give the prompt a name to save it to the library.", {"name": ["Enter a name."]})
    prompt.saved_name = name
    prompt.saved_by = user
    prompt.saved_at = timezone.now()
    prompt.save(update_fields=["saved_name", "saved_by", "saved_at"])
    return prompt
