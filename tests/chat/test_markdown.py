"""Replies are markdown rendered on the server and sanitised: an XSS corpus must come out inert."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from kiestudio.chat.markdown import render_markdown, split_committed

XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)><circle r=1 /></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "[click me](javascript:alert(1))",
    "[click me](JaVaScRiPt:alert(1))",
    "[click me](java\tscript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![pixel](data:image/png;base64,iVBORw0KGgo=)",
    "![svg](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![tracker](https://evil.example/pixel.gif)",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<form action=https://evil.example><input name=q></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '```html"><script>alert(1)</script>\n<b>inside code</b>\n```',
    "[x](vbscript:msgbox(1))",
    "<details open ontoggle=alert(1)>",
    "<<script>script>alert(1)<</script>/script>",
]


class Elements(HTMLParser):
    """Every real element and attribute in a piece of HTML (text that merely looks like a tag is not one)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize("payload", XSS)
def test_xss_corpus_renders_inert(payload):
    html = render_markdown(f"Before\n\n{payload}\n\nAfter")
    assert "Before" in html and "After" in html
    for tag, attrs in Elements(html).found:
        # Nothing a model writes becomes a tag of its own: only what the renderer makes.
        assert tag in {"p", "a", "div", "span", "button", "pre", "code", "br"}, (tag, html)
        assert not any(name.startswith("on") or name in ("style", "src") for name in attrs), (attrs, html)
        if "href" in attrs:
            assert attrs["href"].split(":", 1)[0] in ("http", "https", "mailto"), html


def test_links_are_http_only_and_open_safely():
    html = render_markdown("[docs](https://kie.ai/docs) and [mail](mailto:a@example.com)")
    assert '<a href="https://kie.ai/docs" target="_blank" rel="noopener noreferrer nofollow">docs</a>' in html
    assert 'href="mailto:a@example.com"' in html


def test_images_become_links_so_a_reply_never_loads_anything():
    html = render_markdown("![A fox](https://example.com/fox.png)")
    assert "<img" not in html
    assert '<a href="https://example.com/fox.png"' in html and ">A fox</a>" in html


def test_code_blocks_tables_and_lists():
    html = render_markdown(
        "```python\nprint('<hi>')\n```\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n1. one\n2. two\n\n- x\n- y"
    )
    assert '<div class="code-block">' in html
    assert '<button type="button" class="copy-code" aria-label="Copy code">Copy</button>' in html
    assert "<code class=\"language-python\">print('&lt;hi&gt;')" in html
    assert '<th class="align-left">a</th>' in html and '<td class="align-right">2</td>' in html
    assert "style=" not in html
    assert "<ol>" in html and "<ul>" in html


def test_code_language_cannot_inject_attributes():
    html = render_markdown('```js" onclick="alert(1)\nx\n```')
    assert "onclick" not in html
    assert '<code class="language-js">' in html


def test_split_committed_keeps_open_blocks_in_the_tail():
    assert split_committed("One\n\nTwo") == ("One\n\n", "Two")
    assert split_committed("No break yet") == ("", "No break yet")
    # A blank line inside an open code fence does not finish a block.
    text = "Intro\n\n```py\na = 1\n\nb = 2\n"
    assert split_committed(text) == ("Intro\n\n", "```py\na = 1\n\nb = 2\n")
    closed = text + "```\n\nAfter"
    assert split_committed(closed) == (text + "```\n\n", "After")
    assert split_committed("~~~\nx\n\ny\n~~~\n\nz") == ("~~~\nx\n\ny\n~~~\n\n", "z")
