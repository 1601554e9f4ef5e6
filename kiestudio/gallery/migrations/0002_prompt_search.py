"""Full-text search over prompts: FTS5 on SQLite, a generated tsvector with a GIN index on PostgreSQL."""

from __future__ import annotations

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE gallery_prompt_fts USING fts5("
    "prompt_text, content='studio_generation', content_rowid='id', tokenize='porter unicode61')",
    "INSERT INTO gallery_prompt_fts(rowid, prompt_text) SELECT id, prompt_text FROM studio_generation",
    "CREATE TRIGGER gallery_prompt_fts_ai AFTER INSERT ON studio_generation BEGIN "
    "INSERT INTO gallery_prompt_fts(rowid, prompt_text) VALUES (new.id, new.prompt_text); END",
    "CREATE TRIGGER gallery_prompt_fts_ad AFTER DELETE ON studio_generation BEGIN "
    "INSERT INTO gallery_prompt_fts(gallery_prompt_fts, rowid, prompt_text) VALUES ('delete', old.id, old.prompt_text); END",
    "CREATE TRIGGER gallery_prompt_fts_au AFTER UPDATE OF prompt_text ON studio_generation BEGIN "
    "INSERT INTO gallery_prompt_fts(gallery_prompt_fts, rowid, prompt_text) VALUES ('delete', old.id, old.prompt_text); "
    "INSERT INTO gallery_prompt_fts(rowid, prompt_text) VALUES (new.id, new.prompt_text); END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS gallery_prompt_fts_au",
    "DROP TRIGGER IF EXISTS gallery_prompt_fts_ad",
    "DROP TRIGGER IF EXISTS gallery_prompt_fts_ai",
    "DROP TABLE IF EXISTS gallery_prompt_fts",
]
POSTGRES_FORWARD = [
    "ALTER TABLE studio_generation ADD COLUMN prompt_search tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', coalesce(prompt_text, ''))) STORED",
    "CREATE INDEX generation_prompt_search ON studio_generation USING gin (prompt_search)",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS generation_prompt_search",
    "ALTER TABLE studio_generation DROP COLUMN IF EXISTS prompt_search",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor, [])
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("gallery", "0001_initial"), ("studio", "0004_trash_and_gallery_indexes")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        )
    ]
