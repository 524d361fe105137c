"""PostgreSQL full-text search for runbooks: a generated, weighted tsvector column and its
GIN index. Weights: title A, failure scenarios B, steps (diagnostic, mitigation, rollback,
escalation) C, body D. SQLite has no tsvector: there the migration does nothing and
``runbooks.selectors.search`` falls back to ranked ``icontains`` matching.

The column is not a model field (Django never reads or writes it); the database keeps it in
step with every INSERT/UPDATE, bulk writes and history restores included.
"""

from django.db import migrations

VECTOR = """
    setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
    || setweight(to_tsvector('english'::regconfig, coalesce(summary, '') || ' ' || coalesce(scenarios, '')), 'B')
    || setweight(to_tsvector('english'::regconfig,
           coalesce(diagnostic_steps, '') || ' ' || coalesce(mitigation, '') || ' '
           || coalesce(rollback, '') || ' ' || coalesce(escalation_notes, '')), 'C')
    || setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'D')
"""

FORWARD = [
    f"ALTER TABLE runbooks_runbook ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({VECTOR}) STORED",
    # Keep vectors in the row (compressed) instead of the TOAST table: ranking reads every
    # matching vector, and out-of-line vectors doubled the search time (benchmarks/runbooks.py).
    "ALTER TABLE runbooks_runbook ALTER COLUMN search_vector SET STORAGE MAIN",
    # selectors.search(): WHERE search_vector @@ websearch_to_tsquery(...) ORDER BY ts_rank(...)
    "CREATE INDEX runbooks_runbook_search_gin ON runbooks_runbook USING gin (search_vector)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS runbooks_runbook_search_gin",
    "ALTER TABLE runbooks_runbook DROP COLUMN IF EXISTS search_vector",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in FORWARD:
        schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for sql in BACKWARD:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("runbooks", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
