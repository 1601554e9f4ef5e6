"""Kie credits in words: one way to print an amount, for messages and pages alike."""

from __future__ import annotations

from decimal import Decimal


def format_credits(value: Decimal) -> str:
    value = value.quantize(Decimal("0.01"))
    return f"{value:,.0f}" if value == value.to_integral() else f"{value:,.2f}"
