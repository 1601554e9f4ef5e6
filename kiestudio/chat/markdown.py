"""Model replies as safe HTML: markdown-it renders (raw HTML in the text stays text), nh3 sanitises.

Two layers, on purpose. markdown-it runs with ``html=False``, so a reply can't emit tags of its own: ``<script>``
or ``<img onerror>`` written by the model comes out as visible text. nh3 then allows only the tags and
attributes the renderer itself produces, and only http, https and mailto links. Images in markdown become
plain links: a reply never makes the browser fetch anything by itself.
"""

from __future__ import annotations

import re
from functools import cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

__all__ = ["render_markdown", "split_committed"]

ALLOWED_TAGS = {
    "a", "blockquote", "br", "button", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "button": {"type", "class", "aria-label"},
    "code": {"class"},
    "div": {"class"},
    "span": {"class"},
    "th": {"class"},
    "td": {"class"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_LANGUAGE = re.compile(r"[^a-z0-9+#_-]")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def _fence(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    language = _LANGUAGE.sub("", (token.info.strip().split() or [""])[0].lower())[:20]
    code_class = f' class="language-{language}"' if language else ""
    return (
        '<div class="code-block"><div class="code-head">'
        f'<span class="code-lang">{language or "code"}</span>'
        '<button type="button" class="copy-code" aria-label="Copy code">Copy</button></div>'
        f"<pre><code{code_class}>{escapeHtml(token.content)}</code></pre></div>\n"
    )


def _image(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    label = self.renderInlineAsText(token.children or [], options, env) or token.attrGet("src") or "image"
    return f'<a href="{escapeHtml(token.attrGet("src") or "")}">{escapeHtml(label)}</a>'


def _table_alignment_as_classes(state) -> None:
    """markdown-it aligns table cells with inline ``style``; classes keep the page free of inline styles."""
    for token in state.tokens:
        style = token.attrGet("style") if token.type in ("th_open", "td_open") else None
        if style:
            token.attrs.pop("style", None)
            token.attrSet("class", "align-" + style.removeprefix("text-align:").strip())


@cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _fence)
    md.add_render_rule("image", _image)
    md.core.ruler.push("table_alignment_classes", _table_alignment_as_classes)
    return md


def render_markdown(text: str) -> str:
    """Safe HTML for a reply's markdown."""
    if not text:
        return ""
    html = _parser().render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def split_committed(text: str) -> tuple[str, str]:
    """Split a reply that is still arriving into ``(finished blocks, tail)``.

    The finished part ends at the last blank line outside a code fence: everything before it renders as
    markdown now, the tail shows as plain text until its block is complete.
    """
    cut = 0
    fence: str | None = None
    position = 0
    for line in text.splitlines(keepends=True):
        position += len(line)
        stripped = line.strip()
        marker = _FENCE.match(line)
        if fence is None and marker:
            fence = marker.group(1)[0] * len(marker.group(1))
        elif fence is not None and stripped.startswith(fence) and not stripped.strip(fence[0]):
            fence = None
        elif fence is None and not stripped and line.endswith("\n"):
            cut = position
    return text[:cut], text[cut:]
