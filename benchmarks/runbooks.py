"""Runbooks: full-text search over 20,000 runbooks stays interactive.

Prints, on PostgreSQL, the median / p95 time of the search the /runbooks/ page and
``GET /api/v1/runbooks/?q=`` run (first page of 50, ranked), for a few queries, with the GIN
index on the weighted ``search_vector`` column and then, in the same run, without it (index
dropped, re-created afterwards). Target: median <= 30 ms with the index. The portable
``icontains`` fallback (what SQLite uses) is timed on the same data for comparison.
On SQLite only the fallback can be measured; the script says so.
"""

import random

from _harness import django_with_fresh_db, report, timed

N = 20_000
QUERIES = [
    "certificate",
    "webhook backlog",
    "dns failover",
    "rollback",
    '"connection pool" -redis',
    "kubernetes",
]
# Failure modes with the words that belong to them: a topic word ("certificate") appears in
# the runbooks about that failure, as in a real corpus, not in every runbook.
TOPICS = [
    ("TLS certificate renewal", "certificate acme expiry issuer chain renewal"),
    ("Billing webhook backlog", "webhook backlog stripe consumer queue lag"),
    ("DNS failover", "dns resolver nameserver delegation failover servfail"),
    ("Database failover", "replica primary patroni promotion failover replication"),
    ("Deployment rollback", "deploy release canary rollback revert artifact"),
    ("Redis eviction storm", "redis eviction maxmemory keys cache"),
    ("Connection pool exhaustion", "connection pool pgbouncer saturation clients"),
    ("Disk full", "disk volume inode cleanup retention"),
    ("Gateway 5xx spike", "gateway proxy upstream 502 timeout"),
    ("Connector sync stuck", "connector sync schedule cursor backfill"),
    ("Cron job missed", "cron schedule heartbeat missed job"),
    ("Invoice rendering failure", "invoice pdf renderer template billing"),
    ("Rate limiter misfire", "rate limit quota throttle token bucket"),
    ("Search index lag", "search index reindex shard lag"),
    ("Login outage", "login session sso saml identity"),
    ("Email delivery delay", "email smtp bounce deliverability queue"),
    ("Object storage errors", "bucket object storage s3 latency"),
    ("Kafka consumer rebalance", "kafka partition rebalance offset consumer"),
    ("Memory leak", "memory leak heap oom restart"),
    ("Clock skew", "ntp clock skew drift token"),
]
GENERIC = [
    "latency",
    "error",
    "rate",
    "dashboard",
    "alert",
    "probe",
    "health",
    "check",
    "region",
    "zone",
    "node",
    "pod",
    "cluster",
    "restart",
    "scale",
    "drain",
    "config",
    "customer",
    "tenant",
    "incident",
    "escalation",
    "runbook",
    "owner",
    "page",
    "retry",
    "backoff",
]
SYLLABLES = "ka lo mi nu pe ra si to vu xe za bo di fu go hi ju ke"


def vocabulary(rng):
    syl = SYLLABLES.split()
    words = sorted({"".join(rng.choice(syl) for _ in range(rng.randint(2, 4))) for _ in range(6000)})
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf: a few words are everywhere
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    return words, cum


def sentence(rng, vocab, n, topic_words=(), topic_share=0.0):
    words, cum = vocab
    out = []
    for picked in rng.choices(words, cum_weights=cum, k=n):
        roll = rng.random()
        if topic_words and roll < topic_share:
            out.append(rng.choice(topic_words))
        elif roll < topic_share + 0.05:
            out.append(rng.choice(GENERIC))
        else:
            out.append(picked)
    return " ".join(out).capitalize() + "."


def seed() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from catalog.models import Service, Team
    from runbooks.models import Runbook

    rng = random.Random(42)
    vocab = vocabulary(rng)
    team = Team.objects.create(name="Bench", slug="bench")
    services = Service.objects.bulk_create(
        [Service(name=f"svc-{i}", slug=f"svc-{i}", owner_team=team) for i in range(200)]
    )
    now = timezone.now()
    batch = []
    for i in range(N):
        title, topic = rng.choice(TOPICS)
        tw = topic.split()
        reviewed = now - timedelta(days=rng.randint(0, 300))
        rb = Runbook(
            title=f"{title} on {services[i % len(services)].name} ({i})",
            slug=f"rb-{i}",
            owner_team=team,
            summary=sentence(rng, vocab, 8, tw, 0.3),
            scenarios="\n".join(sentence(rng, vocab, 6, tw, 0.3) for _ in range(3)),
            diagnostic_steps="\n".join(f"{k}. {sentence(rng, vocab, 10, tw, 0.15)}" for k in range(1, 5)),
            mitigation="\n".join(f"{k}. {sentence(rng, vocab, 10, tw, 0.15)}" for k in range(1, 4)),
            rollback=sentence(rng, vocab, 12, tw, 0.1),
            escalation_notes=sentence(rng, vocab, 8),
            body="\n\n".join(sentence(rng, vocab, 25, tw, 0.03) for _ in range(6)),
            last_reviewed_at=reviewed,
            created_at=reviewed,
        )
        rb.review_due_at, rb.stale_at = rb.compute_due_dates()  # bulk_create skips save()
        batch.append(rb)
        if len(batch) == 2000:
            Runbook.objects.bulk_create(batch)
            batch = []
    through = Runbook.services.through
    ids = list(Runbook.objects.values_list("pk", flat=True))
    through.objects.bulk_create(
        [through(runbook_id=pk, service_id=services[pk % len(services)].pk) for pk in ids]
    )


def measure(search_fn, *, page: bool = False) -> dict:
    """Median of the ranked first page for every query: ids and ranks (the search itself), or
    with ``page`` the rows the /runbooks/ page shows (selectors.listing_queryset: owner team,
    services prefetch)."""
    from runbooks import selectors
    from runbooks.models import Runbook

    out = {}
    for q in QUERIES:
        if page:
            fn = lambda q=q: list(search_fn(selectors.listing_queryset(), q)[:50])  # noqa: E731
        else:
            fn = lambda q=q: list(search_fn(Runbook.objects.all(), q).values_list("id", "rank")[:50])  # noqa: E731
        out[q] = timed(fn, repeat=25)
    return out


def main() -> None:
    with django_with_fresh_db():
        from django.db import connection

        from runbooks import selectors

        seed()
        fallback = measure(lambda qs, q: selectors.search_fallback(qs, selectors.normalise_query(q)))
        rows: list[tuple[str, object]] = [("runbooks", f"{N:,}"), ("database", connection.vendor)]
        if connection.vendor != "postgresql":
            for q, t in fallback.items():
                rows.append((f"fallback {q!r} median / p95 ms", f"{t['median_ms']} / {t['p95_ms']}"))
            rows.append(("note", "the GIN comparison needs PostgreSQL: set DATABASE_URL"))
            report("runbook search (first page of 50, ranked)", rows)
            return
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE runbooks_runbook")  # what autovacuum does after a load
            cursor.execute(
                "SELECT count(*) FROM runbooks_runbook WHERE search_vector @@ websearch_to_tsquery('english', 'certificate')"
            )
            matches = cursor.fetchone()[0]
        with_index = measure(lambda qs, q: selectors.search(q, queryset=qs))
        full_page = measure(lambda qs, q: selectors.search(q, queryset=qs), page=True)
        plan_with = selectors.search("certificate").explain()
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX runbooks_runbook_search_gin")
            cursor.execute("ANALYZE runbooks_runbook")
        without = measure(lambda qs, q: selectors.search(q, queryset=qs))
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE INDEX runbooks_runbook_search_gin ON runbooks_runbook USING gin (search_vector)"
            )
        rows.append(("rows matching 'certificate'", matches))
        rows.append(("plan uses the GIN index", "runbooks_runbook_search_gin" in plan_with))
        rows.append(("search median ms:", "GIN / no index / icontains fallback (p95s), no-index/GIN"))
        for q in QUERIES:
            w, wo, fb = with_index[q], without[q], fallback[q]
            rows.append(
                (
                    f"- {q!r}",
                    f"{w['median_ms']} / {wo['median_ms']} / {fb['median_ms']}"
                    f"  (p95 {w['p95_ms']} / {wo['p95_ms']} / {fb['p95_ms']})"
                    f"  {wo['median_ms'] / max(w['median_ms'], 0.01):.1f}x",
                )
            )
        rows.append(("/runbooks/ result rows (+ services), GIN, median / p95 ms:", ""))
        for q in QUERIES:
            rows.append((f"- {q!r}", f"{full_page[q]['median_ms']} / {full_page[q]['p95_ms']}"))
        worst = max(t["median_ms"] for t in with_index.values())
        rows.append(
            ("worst median with GIN (target <= 30 ms)", f"{worst} ms: {'met' if worst <= 30 else 'MISSED'}")
        )
        report("runbook search (first page of 50, ranked)", rows)


if __name__ == "__main__":
    main()
