from __future__ import annotations

import re
from decimal import Decimal

from django.template.defaultfilters import floatformat


def balance_pill(credits: Decimal) -> re.Pattern[str]:
    """The header's balance pill for this many credits, as its template writes it."""
    return re.compile(rf"{re.escape(floatformat(credits, '-2g'))} cr$")
