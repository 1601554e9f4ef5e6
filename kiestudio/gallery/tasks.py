from __future__ import annotations

from kiestudio.gallery.services import trash_purge


def trash_purge_task() -> int:
    """Scheduled daily: items in the trash for more than 30 days are deleted, files included."""
    return trash_purge()
