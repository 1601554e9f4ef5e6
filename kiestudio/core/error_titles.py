"""The short title a failure is shown under, by error class: the heading of a failed generation's card (studio)
and of a failed chat reply (chat).

The Kie client's error classes (``kiestudio.kie.errors``) are titled here, once for both features: one title where
they say the same, both side by side where a card and a reply put it their own way. Each feature's template tags
add the classes only it has (a generation's ``content_rejected``, a reply's ``interrupted``).
"""

from __future__ import annotations

from typing import Literal

Feature = Literal["generation", "chat"]

# Error class: its title, or (on a generation's card, on a chat reply).
_KIE_TITLES: dict[str, str | tuple[str, str]] = {
    "auth_failed": "Kie rejected the API key",
    "insufficient_credits": ("Not enough Kie credits", "Out of Kie credits"),
    "key_limit": ("Key limit reached", "The key's spending cap is reached"),
    "rate_limited": ("Rate limited", "Kie is busy"),
    "unavailable": ("Kie is under maintenance", "Kie is unavailable"),
    "upstream_error": ("Kie had a problem", "The reply broke off"),
    "timeout": ("Timed out", "Kie took too long"),
    "unknown_outcome": ("Outcome unknown", "Kie took too long"),
    "network_error": "Couldn't reach Kie",
    "bad_request": "Kie refused the request",
}


def kie_error_titles(feature: Feature) -> dict[str, str]:
    """The titles of the Kie client's error classes, as ``feature`` words them."""
    column = 0 if feature == "generation" else 1
    return {name: title if isinstance(title, str) else title[column] for name, title in _KIE_TITLES.items()}
