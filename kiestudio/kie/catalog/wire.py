"""Build the JSON body Kie expects for a create call from a spec and validated inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .specs import FAMILIES

if TYPE_CHECKING:
    from .specs import ModelSpec


def request_body(spec: ModelSpec, inputs: Mapping[str, Any], callback_url: str | None = None) -> dict[str, Any]:
    """The create-task body: Market wraps inputs in ``input``; family APIs take them at the top level.

    ``model`` is added where the family has one, ``callBackUrl`` when given (Suno requires it).
    ``inputs`` should come from :func:`validate_inputs`.
    """
    family = FAMILIES[spec.family]
    if family["callback_required"] and not callback_url:
        raise ValueError(f"{family['name']} requires a callBackUrl")
    body: dict[str, Any] = {}
    if family["model_param"]:
        body[family["model_param"]] = spec.model
    if callback_url:
        body["callBackUrl"] = callback_url
    if family["input_wrapper"]:
        body[family["input_wrapper"]] = dict(inputs)
    else:
        body.update(inputs)
    return body
