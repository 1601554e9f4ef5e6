"""The SQLite full-text index over prompts stays wired up after any migration.

Migration 0002 creates an FTS5 table kept in sync by triggers on ``studio_generation``. SQLite can't alter most
columns in place, so Django rebuilds a table to add a non-null or foreign-key column, and a rebuild drops the
table's triggers. After every ``migrate`` this puts back any trigger that is missing and, if one was, rebuilds the
index from the table so no prompt written in between is unsearchable. PostgreSQL needs none of this: its
``tsvector`` is a generated column.
"""

from __future__ import annotations

from django.db import connections

TRIGGERS = {
    "gallery_prompt_fts_ai": (
        "CREATE TRIGGER IF NOT EXISTS gallery_prompt_fts_ai AFTER INSERT ON studio_generation BEGIN "
        "INSERT INTO gallery_prompt_fts(rowid, prompt_text) VALUES (new.id, new.prompt_text); END"
    ),
    "gallery_prompt_fts_ad": (
        "CREATE TRIGGER IF NOT EXISTS gallery_prompt_fts_ad AFTER DELETE ON studio_generation BEGIN "
        "INSERT INTO gallery_prompt_fts(gallery_prompt_fts, rowid, prompt_text) "
        "VALUES ('delete', old.id, old.prompt_text); END"
    ),
    "gallery_prompt_fts_au": (
        "CREATE TRIGGER IF NOT EXISTS gallery_prompt_fts_au AFTER UPDATE OF prompt_text ON studio_generation BEGIN "
        "INSERT INTO gallery_prompt_fts(gallery_prompt_fts, rowid, prompt_text) "
        "VALUES ('delete', old.id, old.prompt_text); "
        "INSERT INTO gallery_prompt_fts(rowid, prompt_text) VALUES (new.id, new.prompt_text); END"
    ),
}


def ensure_prompt_search(*, using: str = "default") -> list[str]:
    """Recreate missing triggers (and then rebuild the index); returns the names that were missing."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, type FROM sqlite_master WHERE name LIKE 'gallery_prompt_fts%'")
        present = dict(cursor.fetchall())
        if "gallery_prompt_fts" not in present:
            return []  # migration 0002 hasn't run yet (or was rolled back)
        missing = [name for name in TRIGGERS if name not in present]
        for name in missing:
            cursor.execute(TRIGGERS[name])
        if missing:
            cursor.execute("INSERT INTO gallery_prompt_fts(gallery_prompt_fts) VALUES ('rebuild')")
    return missing


def _after_migrate(sender, *, using: str = "default", **kwargs) -> None:
    ensure_prompt_search(using=using)
