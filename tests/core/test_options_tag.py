"""``{% options %}``: one call renders a select's options, escaped, with the chosen one marked."""

from __future__ import annotations

from django.template import engines


def _render(choices, selected) -> str:
    template = engines["django"].from_string("{% load options %}{% options choices selected %}")
    return template.render({"choices": choices, "selected": selected})


def test_marks_the_chosen_value_compared_as_text():
    html = _render([(1, "Ann"), (2, "Bo")], "2")
    assert html == '<option value="1">Ann</option><option value="2" selected>Bo</option>'


def test_escapes_values_and_labels():
    html = _render([('a"b', "<script>x</script> & co")], None)
    assert html == '<option value="a&quot;b">&lt;script&gt;x&lt;/script&gt; &amp; co</option>'


def test_nothing_chosen_marks_nothing():
    assert "selected" not in _render([("image", "Images"), ("video", "Videos")], "")
