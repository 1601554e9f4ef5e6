"""Exceptions raised by the model catalog."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class CatalogError(Exception):
    """The catalog data files are malformed (a bug in ``data/*.json``, never user input)."""

    def __init__(self, problems: Sequence[str]):
        self.problems = tuple(problems)
        shown = "\n  - ".join(self.problems[:50])
        more = f"\n  … and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(f"The model catalog has {len(self.problems)} problem(s):\n  - {shown}{more}")


class UnknownModel(KeyError):
    """No model with this key is in the catalog."""

    def __init__(self, key: object, known: Sequence[str] = ()):
        self.key = key
        self.known = tuple(known)
        super().__init__(key)

    def __str__(self) -> str:
        message = f"Unknown model {self.key!r}: it is not in the Kie Studio model catalog"
        if self.known:
            close = [k for k in self.known if str(self.key).lower() in k.lower() or k.lower() in str(self.key).lower()]
            if close:
                message += f" (did you mean {', '.join(repr(k) for k in close[:3])}?)"
        return message


class InputValidationError(ValueError):
    """User inputs do not fit a model. ``errors`` maps a field name to readable messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]):
        self.errors: dict[str, list[str]] = {name: list(messages) for name, messages in errors.items() if messages}
        super().__init__(self.summary())

    def summary(self) -> str:
        messages = [message for messages in self.errors.values() for message in messages]
        if not messages:
            return "The inputs are not valid."
        return "Please fix: " + "; ".join(messages)

    def __str__(self) -> str:
        return self.summary()


class PricingError(ValueError):
    """A price rule cannot be evaluated for the given inputs."""
