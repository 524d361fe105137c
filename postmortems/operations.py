"""Migration operations that only touch the database on PostgreSQL.

The archive's full-text GIN index (``to_tsvector(...)``) means nothing to SQLite, which has
no text search functions. The operation still records the index in the migration state, so
``makemigrations --check`` stays clean on every engine; only the SQL is PostgreSQL-only.
"""

from django.db import migrations


class AddIndexOnPostgreSQL(migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return super().describe() + " (PostgreSQL only)"
