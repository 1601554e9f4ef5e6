from __future__ import annotations

import time
import uuid

from kiestudio.kie.catalog import get_model
from kiestudio.studio import services
from kiestudio.studio.models import PENDING, Generation, Status
from kiestudio.workspaces.models import Workspace


def workspace_of(user) -> Workspace:
    return Workspace.objects.filter(memberships__user=user).order_by("pk").first()


def create(user, model="google/nano-banana", *, variations=1, token=None, **inputs) -> list[Generation]:
    spec = get_model(model)
    inputs = inputs or {"prompt": "A red fox in the snow"}
    plan = services.generation_plan(spec=spec, raw_inputs=inputs, variations=variations)
    return services.generation_create(
        workspace=workspace_of(user), user=user, plan=plan, form_token=token or uuid.uuid4()
    )


def made(user, model="google/nano-banana", **inputs) -> Generation:
    """One generation, run to the end; it must succeed."""
    [generation] = create(user, model, **inputs)
    drain()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.failure_message
    return generation


def drain(timeout: float = 15.0) -> None:
    """Run due work inline (django-q is synchronous in tests) until nothing is pending."""
    deadline = time.monotonic() + timeout
    while Generation.objects.filter(status__in=PENDING).exists():
        services.sweep()
        services.dispatch_due()
        if time.monotonic() > deadline:
            raise AssertionError(
                "Still pending: "
                + str(list(Generation.objects.filter(status__in=PENDING).values("pk", "status", "next_check_at")))
            )
        time.sleep(0.01)
