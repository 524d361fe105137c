"""Link the signatures taken before supersession existed, and re-stamp the standing ones.

1. Per review and slot, oldest first, each signature but the last is superseded by the next
   one (at its signing time); one that was never invalidated (there should be none) is marked
   invalidated then too, so the reason stays on record.
2. A standing signature (current, not invalidated) hashed only the items. If that hash still
   matches the stored items, the release's plan as stored now is what the gate has been
   treating as signed, so it becomes the signed content (snapshot and hash in the new
   format, the one ``readiness.selectors.signed_content`` computes). If it does not match,
   the gate already called it invalid: it is marked invalidated and an approved release goes
   back to review, as the services do.

The canonical format is written out here (not imported) so this migration keeps meaning
what it meant when later code changes.
"""

import hashlib
import json
from datetime import UTC, datetime
from itertools import groupby

from django.db import migrations

RELEASE_FIELDS = (
    "version", "change_summary", "risk", "release_lead", "window_start", "window_end",
    "rollback_plan", "rollback_minutes", "rollback_tested_at", "rollback_evidence_url", "rollback_evidence_note",
)  # fmt: skip


def _digest(data) -> str:
    payload = json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _items(review_items) -> list[list]:
    return [
        [i.key, i.state, i.evidence_url, i.evidence_note, i.waiver_reason, i.waived_by_id]
        for i in sorted(review_items, key=lambda i: (i.position, i.key))
    ]


def _release(release) -> dict:
    out = {}
    for f in RELEASE_FIELDS:
        value = getattr(release, f"{f}_id" if f == "release_lead" else f)
        out[f] = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
    out["services"] = sorted(release.services.values_list("pk", flat=True))
    return out


def forwards(apps, schema_editor):
    Signature = apps.get_model("readiness", "Signature")
    ReviewItem = apps.get_model("readiness", "ReviewItem")
    Release = apps.get_model("readiness", "Release")
    now = datetime.now(UTC)

    ordered = Signature.objects.order_by("review_id", "slot", "signed_at", "pk")
    for _, group in groupby(ordered.iterator(), key=lambda s: (s.review_id, s.slot)):
        group = list(group)
        for old, new in zip(group, group[1:], strict=False):
            if old.invalidated_at is None:
                old.invalidated_at = new.signed_at
                old.invalidated_reason = "signed again"
            old.superseded_at = new.signed_at
            old.save(update_fields=["invalidated_at", "invalidated_reason", "superseded_at"])
            new.supersedes_id = old.pk
            new.save(update_fields=["supersedes"])

    standing = Signature.objects.filter(superseded_at__isnull=True, invalidated_at__isnull=True)
    for sig in standing.select_related("review__release").order_by("pk"):
        release = sig.review.release
        items = _items(ReviewItem.objects.filter(review_id=sig.review_id))
        if _digest(items) == sig.content_hash:
            data = {"release": _release(release), "items": items}
            sig.snapshot, sig.content_hash = data, _digest(data)
            sig.save(update_fields=["snapshot", "content_hash"])
            continue
        sig.invalidated_at = now
        sig.invalidated_reason = "items changed after signing"
        sig.save(update_fields=["invalidated_at", "invalidated_reason"])
        if release.status == "approved":
            Release.objects.filter(pk=release.pk).update(status="in_review", status_changed_at=now)


def backwards(apps, schema_editor):
    """Back to item-only hashes: standing signatures keep holding for the old code."""
    Signature = apps.get_model("readiness", "Signature")
    for sig in Signature.objects.order_by("pk").iterator():
        if isinstance(sig.snapshot, dict):
            sig.snapshot = sig.snapshot.get("items", [])
            if sig.invalidated_at is None:
                sig.content_hash = _digest(sig.snapshot)
            sig.save(update_fields=["snapshot", "content_hash"])


class Migration(migrations.Migration):
    dependencies = [("readiness", "0003_signature_supersession")]

    operations = [migrations.RunPython(forwards, backwards)]
