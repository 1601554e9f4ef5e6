"""Generations: from the click that buys a Kie task to the files stored in our own storage.

The database is the source of truth. A generation that needs work has ``next_check_at`` set; the dispatcher
leases due rows and hands their ids to workers, and ``generation_advance`` performs one step (submit, poll or
store) under that lease. Every step is safe to run twice: transitions are conditional UPDATEs that only one
worker can win. One click buys at most one Kie task: a create whose outcome is unknown is never resent.

Read the modules in the order a generation lives:

1. ``plan``: a model's form values become a priced, validated plan.
2. ``create``: the plan becomes rows (budgets, the form token), nudged to a worker after commit.
3. ``lifecycle``: the state machine (conditional transitions).
4. ``scheduler``: leases, the dispatcher, the sweeper, the submit limiter and the poll schedule.
5. ``worker``: one step under a lease: submit, poll, store (``references`` sends pictures and clips to Kie).
6. ``callbacks``: Kie's callbacks.
7. ``followups`` and ``suno``: actions on a finished result; ``prompts``: the prompt library; ``trash``: put
   aside, restored, purged with the files (``kiestudio/studio/files.py``).
8. ``queue``: the workspace's queue in the creator's hands: pause and resume, hold, reorder, cancel what waits,
   and estimated start and finish times.

This package's names are the public API; import them from here.
"""

from __future__ import annotations

import time  # noqa: F401 (tests replace time.sleep through this name)

from kiestudio.studio.services.callbacks import _SHAPES_SEEN, generation_on_callback
from kiestudio.studio.services.create import (
    REQUEST_NAMESPACE,
    generation_create,
    generation_delete,
    generation_retry,
    persona_check,
    reference_from_asset,
)
from kiestudio.studio.services.followups import (
    KIE_TASK_RETENTION,
    SECTION_SECONDS,
    TIMESTAMPED_LYRICS_CREDITS,
    FollowupChoice,
    asset_timestamped_lyrics,
    followup_check,
    followup_choices,
    followup_create,
    followup_media_placeholder,
    followup_parent,
    followup_plan,
    suno_followup_check,
)
from kiestudio.studio.services.lifecycle import generation_cancel, transition
from kiestudio.studio.services.plan import (
    MAX_VARIATIONS,
    MEDIA_PLACEHOLDER,
    GenerationError,
    PlannedGeneration,
    generation_plan,
)
from kiestudio.studio.services.prompts import prompt_record, prompt_save
from kiestudio.studio.services.queue import (
    QueueEntry,
    QueueError,
    generation_move,
    generations_cancel_queued,
    queue_create_limit,
    queue_entries,
    queue_pause,
    queue_resume,
    queue_size,
)
from kiestudio.studio.services.references import (
    REFERENCE_KIE_TTL,
    REFERENCE_MAX_BYTES,
    asset_kie_url,
    reference_kie_url,
)
from kiestudio.studio.services.scheduler import (
    callback_url_for,
    dispatch_due,
    first_poll_delay,
    generation_claim,
    generation_nudge,
    next_poll_delay,
    sweep,
)
from kiestudio.studio.services.suno import (
    PERSONA_ACTION,
    STYLE_BOOST_CREDITS,
    persona_create,
    persona_delete,
    style_boost,
)
from kiestudio.studio.services.trash import TRASH_DAYS, generations_restore, generations_trash, trash_purge
from kiestudio.studio.services.worker import (
    MAX_RESULT_BYTES,
    MAX_STORE_ATTEMPTS,
    MAX_SUBMIT_ATTEMPTS,
    generation_advance,
)

__all__ = [
    "KIE_TASK_RETENTION",
    "MAX_RESULT_BYTES",
    "MAX_STORE_ATTEMPTS",
    "MAX_SUBMIT_ATTEMPTS",
    "MAX_VARIATIONS",
    "MEDIA_PLACEHOLDER",
    "PERSONA_ACTION",
    "REFERENCE_KIE_TTL",
    "REFERENCE_MAX_BYTES",
    "REQUEST_NAMESPACE",
    "SECTION_SECONDS",
    "STYLE_BOOST_CREDITS",
    "TIMESTAMPED_LYRICS_CREDITS",
    "TRASH_DAYS",
    "_SHAPES_SEEN",
    "FollowupChoice",
    "GenerationError",
    "PlannedGeneration",
    "QueueEntry",
    "QueueError",
    "asset_kie_url",
    "asset_timestamped_lyrics",
    "callback_url_for",
    "dispatch_due",
    "first_poll_delay",
    "followup_check",
    "followup_choices",
    "followup_create",
    "followup_media_placeholder",
    "followup_parent",
    "followup_plan",
    "generation_advance",
    "generation_cancel",
    "generation_claim",
    "generation_create",
    "generation_delete",
    "generation_move",
    "generation_nudge",
    "generation_on_callback",
    "generation_plan",
    "generation_retry",
    "generations_cancel_queued",
    "generations_restore",
    "generations_trash",
    "next_poll_delay",
    "persona_check",
    "persona_create",
    "persona_delete",
    "prompt_record",
    "prompt_save",
    "queue_create_limit",
    "queue_entries",
    "queue_pause",
    "queue_resume",
    "queue_size",
    "reference_from_asset",
    "reference_kie_url",
    "style_boost",
    "suno_followup_check",
    "sweep",
    "time",
    "transition",
    "trash_purge",
]
