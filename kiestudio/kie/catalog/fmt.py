"""The house layout of ``data/*.json``: one key per line in a model, one line per field or rule.

``python -m kiestudio.kie.catalog.fmt`` rewrites every data file in this layout (after a script or an editor
has changed it); a test checks that the files are kept in it, so diffs stay one line per change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
#: Model keys whose value is a list written one item per line.
LISTED = ("fields", "rules")


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _model(model: dict[str, Any]) -> str:
    lines = []
    for key, value in model.items():
        if key in LISTED and isinstance(value, list) and value:
            items = ",\n".join(f"        {_compact(item)}" for item in value)
            lines.append(f'      "{key}": [\n{items}\n      ]')
        else:
            lines.append(f'      "{key}": {_compact(value)}')
    return "    {\n" + ",\n".join(lines) + "\n    }"


def dumps(document: dict[str, Any]) -> str:
    """A data file's text: ``{"models": [...]}`` in the house layout, ending in a newline."""
    extra = {key: value for key, value in document.items() if key != "models"}
    if extra:
        raise ValueError(f"a data file holds only 'models', not {sorted(extra)}")
    models = ",\n".join(_model(model) for model in document["models"])
    return '{\n  "models": [\n' + models + "\n  ]\n}\n"


def main(paths: list[str]) -> int:
    targets = [Path(p) for p in paths] or sorted(DATA.glob("*.json"))
    for path in targets:
        text = path.read_text(encoding="utf-8")
        formatted = dumps(json.loads(text))
        if formatted != text:
            path.write_text(formatted, encoding="utf-8")
            print(f"formatted {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
