"""Prices against Kie's own price table (``kie_docs/pricing-2026-06-30.md``), not against our reading of it.

Each file in ``price_checks/`` lists cases: a model, the inputs a creator picks (required fields not given are
filled with a sample), the exact row of Kie's table that prices them, and how many of the row's units the job
buys (seconds, images, thousands of characters; 1 for a per-video row). The estimate must equal the row's
dollars times the units, at 200 credits per dollar.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from kiestudio.kie.catalog import estimate_credits, load_catalog, usd_to_credits, validate_inputs

from .helpers import sample_inputs

HERE = Path(__file__).resolve().parent
TABLE = HERE / "kie_docs" / "pricing-2026-06-30.md"
ROW = re.compile(r"^\|\s*(?P<label>[^|]+?)\s*\|\s*\$(?P<usd>[0-9.,]+)\s*\|\s*(?P<unit>[^|]*?)\s*\|$")


def kie_prices() -> dict[str, set[Decimal]]:
    prices: dict[str, set[Decimal]] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if match := ROW.match(line.strip()):
            usd = match["usd"].replace(",", ".")  # one row is written "$0,325"
            prices.setdefault(match["label"], set()).add(Decimal(usd))
    return prices


PRICES = kie_prices()
CASES = [
    case
    for path in sorted((HERE / "price_checks").glob("*.json"))
    for case in json.loads(path.read_text(encoding="utf-8"))
]


def test_the_table_is_read():
    assert len(PRICES) > 250
    assert PRICES["Google nano banana, text-to-image"] == {Decimal("0.02")}
    assert PRICES["Google veo 3.1, text-to-video, Fast-1080p"] == {Decimal("0.325")}


@pytest.mark.parametrize("case", CASES, ids=[f"{c['model']}:{c['row']}" for c in CASES])
def test_price_matches_kies_table(case):
    spec = load_catalog().get(case["model"])
    row = PRICES.get(case["row"])
    assert row, f"no row {case['row']!r} in Kie's table"
    assert len(row) == 1, f"Kie's table gives {case['row']!r} two prices: {sorted(row)}"
    usd = next(iter(row)) * Decimal(str(case.get("units", 1)))
    inputs = validate_inputs(spec, sample_inputs(spec, **case.get("inputs", {})))
    assert estimate_credits(spec, inputs) == usd_to_credits(usd).quantize(Decimal("0.01")), case


def test_every_priced_model_without_a_price_note_has_a_check():
    """A model whose price is presented as Kie's own figure is checked against the table at least once."""
    checked = {case["model"] for case in CASES}
    unchecked = [spec.key for spec in load_catalog() if spec.added and not spec.price_note and spec.key not in checked]
    assert not unchecked, f"models added this round with a Kie price but no check in price_checks/: {unchecked}"
