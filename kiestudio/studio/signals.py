"""What the studio tells the features above it. ``generation_ended`` is sent once a generation reaches an end
(done, failed, canceled or unknown), after the change commits, with ``generation_id``."""

from __future__ import annotations

from django.dispatch import Signal

generation_ended = Signal()
