from __future__ import annotations

import uuid

from django import template
from django.utils.safestring import SafeString, mark_safe

from kiestudio.chat import toolbox
from kiestudio.chat.markdown import render_markdown, split_committed
from kiestudio.core.error_titles import kie_error_titles
from kiestudio.kie.catalog import UnknownModel
from kiestudio.kie.catalog.chat import get_chat_model

register = template.Library()

# The Kie client's error classes are titled in kiestudio.core.error_titles; these are a reply's own.
ERROR_TITLES = kie_error_titles("chat") | {
    "not_found": "Model not available",
    "attachment": "An image couldn't be sent",
    "interrupted": "Interrupted",
    "server_error": "Something went wrong",
}


@register.filter
def chat_model_name(key: str) -> str:
    try:
        return get_chat_model(key).name
    except UnknownModel:
        return key or "Assistant"


@register.filter
def chat_error_title(error_class: str) -> str:
    return ERROR_TITLES.get(error_class, "The reply failed")


@register.filter
def reply_parts(message) -> tuple[SafeString, str]:
    """``(sanitised HTML, plain tail)``: a reply still arriving renders its finished blocks only, like the stream."""
    text = message.text
    if message.is_streaming:
        committed, tail = split_committed(text)
        return mark_safe(render_markdown(committed)), tail  # sanitised by nh3
    return mark_safe(render_markdown(text)), ""  # sanitised by nh3


@register.simple_tag
def new_token() -> str:
    """A fresh idempotency token for a button that buys a reply (a double click sends the same one)."""
    return str(uuid.uuid4())


@register.filter
def seconds(value) -> str:
    if value is None:
        return ""
    return f"{value:.1f} s" if value < 60 else f"{value / 60:.1f} min"


@register.simple_tag(takes_context=True)
def tool_cards(context, message) -> SafeString:
    """The cards of a reply's tool calls (``toolbox``); a reply without calls shows nothing."""
    return mark_safe(toolbox.cards(message, context.get("request"), live=bool(context.get("live"))))  # noqa: S308  (our own template's output)
