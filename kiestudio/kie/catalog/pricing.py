"""Evaluate the declarative price rules of the catalog (see README.md, "Price DSL").

A price node is either a bare number (credits) or an object with exactly one base:

* ``{"credits": 4}`` - flat credits (the value may itself be a node);
* ``{"by": ["resolution", ...], "table": {"1K": 18, ...}, "default": 18}`` - look up by
  field values joined with ``|`` (``"has:field"`` selects ``"true"``/``"false"`` by presence);

and optional modifiers, applied in this order:

* ``"per": {"field": "duration", "measure": "value"|"chars"|"items", "unit": 1, "round": "exact"|"up",
  "assume": 10, "path": "text"}`` - multiply by the number of units;
* ``"multiply": [{"field": "sound", "table": {"true": 2}, "default": 1}, {"field": "max_images"}]`` -
  multiply by a factor looked up from a field value, or by a numeric field value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .conditions import is_empty, price_key
from .errors import PricingError
from .specs import USD_PER_CREDIT, ModelSpec

CENT = Decimal("0.01")
_BASES = ("credits", "by")
_NODE_KEYS = frozenset({"credits", "by", "table", "default", "per", "multiply"})
_PER_KEYS = frozenset({"field", "measure", "unit", "round", "assume", "path"})
_MULTIPLY_KEYS = frozenset({"field", "table", "default", "assume"})
_MEASURES = ("value", "chars", "items")
_ROUNDING = ("exact", "up")


def to_decimal(value: Any, where: str = "value") -> Decimal:
    if isinstance(value, bool):
        raise PricingError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, Decimal):
        return value
    try:
        number = Decimal(str(value).strip()) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise PricingError(f"{where}: expected a number, got {value!r}")
    return number


def credits_to_usd(credits: Decimal | int | float | str) -> Decimal:
    """US dollars for an amount of credits (1 credit = US$0.005), to 4 decimal places."""
    return (to_decimal(credits) * Decimal(USD_PER_CREDIT)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def usd_to_credits(usd: Decimal | int | float | str) -> Decimal:
    """Credits for a US dollar amount, quantized to 0.01."""
    return (to_decimal(usd) / Decimal(USD_PER_CREDIT)).quantize(CENT, ROUND_HALF_UP)


def estimate_credits(spec: ModelSpec, inputs: Mapping[str, Any]) -> Decimal:
    """Credits Kie will charge for one task with these (validated) inputs, quantized to 0.01.

    Missing fields fall back to the model's defaults, so ``estimate_credits(spec, {})`` gives the
    price of a task with default settings. Raises :class:`PricingError` if the price table has no
    entry for the chosen values.
    """
    values: dict[str, Any] = spec.defaults()
    values.update({name: value for name, value in inputs.items() if not is_empty(value)})
    amount = evaluate_price(spec.price, values, where=spec.key)
    if amount < 0:
        raise PricingError(f"{spec.key}: price evaluated to a negative amount ({amount})")
    return amount.quantize(CENT, ROUND_HALF_UP)


def evaluate_price(node: Any, values: Mapping[str, Any], where: str = "price") -> Decimal:
    """Evaluate one price node against field values (unrounded)."""
    if isinstance(node, int | float | Decimal) and not isinstance(node, bool):
        return to_decimal(node, where)
    if not isinstance(node, Mapping):
        raise PricingError(f"{where}: a price must be a number or an object, got {node!r}")
    if "credits" in node:
        amount = evaluate_price(node["credits"], values, f"{where}.credits")
    elif "by" in node:
        key = "|".join(_selector_key(selector, values) for selector in node["by"])
        table = node.get("table", {})
        if key in table:
            amount = evaluate_price(table[key], values, f"{where}[{key}]")
        elif "default" in node:
            amount = evaluate_price(node["default"], values, f"{where}.default")
        else:
            fields = ", ".join(node["by"])
            raise PricingError(f"{where}: no price for {fields} = {key!r} (known: {', '.join(table)})")
    else:
        raise PricingError(f"{where}: a price object needs 'credits' or 'by'")
    if "per" in node:
        amount *= _units(node["per"], values, where)
    for factor in node.get("multiply", ()):
        amount *= _factor(factor, values, where)
    return amount


def _selector_key(selector: str, values: Mapping[str, Any]) -> str:
    if selector.startswith("has:"):
        return "false" if is_empty(values.get(selector[4:])) else "true"
    return price_key(values.get(selector))


def _units(per: Mapping[str, Any], values: Mapping[str, Any], where: str) -> Decimal:
    name = per["field"]
    value = values.get(name)
    measure = per.get("measure", "value")
    if is_empty(value):
        if "assume" in per:
            count = to_decimal(per["assume"], f"{where}.per.assume")
        elif measure in ("chars", "items"):
            count = Decimal(0)  # nothing typed yet costs nothing
        else:
            raise PricingError(f"{where}: the price depends on {name!r}, which is missing")
    elif measure == "chars":
        count = Decimal(_char_count(value, per.get("path", "text")))
    elif measure == "items":
        count = Decimal(len(value) if isinstance(value, list | tuple) else 1)
    else:
        count = to_decimal(value, f"{where}: {name}")
    units = count / to_decimal(per.get("unit", 1), f"{where}.per.unit")
    if per.get("round", "exact") == "up":
        units = units.to_integral_value(ROUND_CEILING)
    return units


def _char_count(value: Any, path: str) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        return _char_count(value.get(path, ""), path)
    if isinstance(value, list | tuple):
        return sum(_char_count(item, path) for item in value)
    return 0


def _factor(spec: Mapping[str, Any], values: Mapping[str, Any], where: str) -> Decimal:
    name = spec["field"]
    value = values.get(name)
    if "table" in spec:
        key = price_key(value)
        if key in spec["table"]:
            return to_decimal(spec["table"][key], f"{where}.multiply[{name}={key}]")
        return to_decimal(spec.get("default", 1), f"{where}.multiply[{name}].default")
    if is_empty(value):
        return to_decimal(spec.get("assume", 1), f"{where}.multiply[{name}].assume")
    return to_decimal(value, f"{where}: {name}")


def check_price(node: Any, field_names: set[str] | frozenset[str], where: str = "price") -> list[str]:
    """Structural problems in a price node (used when loading the catalog)."""
    if isinstance(node, int | float) and not isinstance(node, bool):
        return [] if node >= 0 and math.isfinite(node) else [f"{where}: credits must be a non-negative number"]
    if not isinstance(node, Mapping):
        return [f"{where}: must be a number or an object"]
    problems = _node_key_problems(node, where)
    if "credits" in node:
        problems += check_price(node["credits"], field_names, f"{where}.credits")
    problems += _lookup_problems(node, field_names, where)
    problems += _per_problems(node.get("per"), field_names, where)
    problems += _multiply_problems(node.get("multiply", []), field_names, where)
    return problems


def _node_key_problems(node: Mapping[str, Any], where: str) -> list[str]:
    problems = []
    unknown = set(node) - _NODE_KEYS
    if unknown:
        problems.append(f"{where}: unknown key(s) {sorted(unknown)}")
    if len([base for base in _BASES if base in node]) != 1:
        problems.append(f"{where}: needs exactly one of 'credits' or 'by'")
    return problems


def _lookup_problems(node: Mapping[str, Any], field_names: set[str] | frozenset[str], where: str) -> list[str]:
    """The ``by`` base: known selectors, a table keyed by one value per selector, an optional default."""
    if "by" not in node:
        return [f"{where}: 'table'/'default' only make sense with 'by'"] if "table" in node or "default" in node else []
    selectors, problems = _checked_selectors(node["by"], field_names, where)
    problems += _table_problems(node.get("table"), selectors, field_names, where)
    if "default" in node:
        problems += check_price(node["default"], field_names, f"{where}.default")
    return problems


def _checked_selectors(
    selectors: Any, field_names: set[str] | frozenset[str], where: str
) -> tuple[list[Any], list[str]]:
    if not isinstance(selectors, list) or not selectors:
        return [], [f"{where}.by: must be a non-empty list of field names"]
    problems = []
    for selector in selectors:
        name = selector[4:] if isinstance(selector, str) and selector.startswith("has:") else selector
        if name not in field_names:
            problems.append(f"{where}.by: unknown field {selector!r}")
    return selectors, problems


def _table_problems(table: Any, selectors: list[Any], field_names: set[str] | frozenset[str], where: str) -> list[str]:
    if not isinstance(table, Mapping) or not table:
        return [f"{where}.table: must be a non-empty object"]
    problems = []
    for key, sub in table.items():
        if isinstance(key, str) and selectors and key.count("|") != len(selectors) - 1:
            problems.append(f"{where}.table: key {key!r} needs {len(selectors)} part(s) joined by '|'")
        problems += check_price(sub, field_names, f"{where}[{key}]")
    return problems


def _per_problems(per: Any, field_names: set[str] | frozenset[str], where: str) -> list[str]:
    if per is None:
        return []
    if not isinstance(per, Mapping):
        return [f"{where}.per: must be an object"]
    problems = []
    if set(per) - _PER_KEYS:
        problems.append(f"{where}.per: unknown key(s) {sorted(set(per) - _PER_KEYS)}")
    if per.get("field") not in field_names:
        problems.append(f"{where}.per: unknown field {per.get('field')!r}")
    if per.get("measure", "value") not in _MEASURES:
        problems.append(f"{where}.per.measure: must be one of {', '.join(_MEASURES)}")
    if per.get("round", "exact") not in _ROUNDING:
        problems.append(f"{where}.per.round: must be one of {', '.join(_ROUNDING)}")
    unit = per.get("unit", 1)
    if isinstance(unit, bool) or not isinstance(unit, int | float) or unit <= 0:
        problems.append(f"{where}.per.unit: must be a positive number")
    return problems


def _multiply_problems(multiply: Any, field_names: set[str] | frozenset[str], where: str) -> list[str]:
    if not isinstance(multiply, list):
        return [f"{where}.multiply: must be a list"]
    problems = []
    for factor in multiply:
        if not isinstance(factor, Mapping) or factor.get("field") not in field_names:
            problems.append(f"{where}.multiply: each entry needs a known 'field'")
        elif set(factor) - _MULTIPLY_KEYS:
            problems.append(f"{where}.multiply: unknown key(s) {sorted(set(factor) - _MULTIPLY_KEYS)}")
    return problems
