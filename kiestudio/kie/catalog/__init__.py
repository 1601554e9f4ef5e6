"""Kie model catalog: data files describing every model, plus loader, validator and price estimator.

Typical use::

    from kiestudio.kie.catalog import estimate_credits, get_model, validate_inputs

    spec = get_model("google/nano-banana")
    inputs = validate_inputs(spec, request.POST)   # raises InputValidationError
    credits = estimate_credits(spec, inputs)       # Decimal, e.g. Decimal("4.00")

Pure Python: nothing in this package imports Django.
"""

from __future__ import annotations

from .conditions import condition_matches, is_http_url, price_key
from .errors import CatalogError, InputValidationError, PricingError, UnknownModel
from .loader import Catalog, get_model, load_catalog, parse_catalog, read_catalog
from .pricing import credits_to_usd, estimate_credits, evaluate_price, usd_to_credits
from .specs import FAMILIES, FIELD_TYPES, KINDS, OUTPUTS, USD_PER_CREDIT, FieldSpec, ModelSpec
from .validation import check_constraints, validate_inputs
from .wire import request_body

__all__ = [
    "FAMILIES",
    "FIELD_TYPES",
    "KINDS",
    "OUTPUTS",
    "USD_PER_CREDIT",
    "Catalog",
    "CatalogError",
    "FieldSpec",
    "InputValidationError",
    "ModelSpec",
    "PricingError",
    "UnknownModel",
    "check_constraints",
    "condition_matches",
    "credits_to_usd",
    "estimate_credits",
    "evaluate_price",
    "get_model",
    "is_http_url",
    "load_catalog",
    "parse_catalog",
    "price_key",
    "read_catalog",
    "request_body",
    "usd_to_credits",
    "validate_inputs",
]
