"""Query helpers shared by every app."""

from django.db.models import Count, IntegerField, Model, OuterRef, ProtectedError, RestrictedError, Subquery
from django.db.models.functions import Coalesce

from opsportal.errors import InUse


def count_subquery(model, fk: str):
    """COUNT of ``model`` rows whose ``fk`` points at the outer row, as a correlated subquery.

    Used for list columns instead of ``Count()`` joins: two ``Count()``s over two joins
    multiply each other's rows, while subqueries keep a changelist one query and correct.
    """
    return Coalesce(
        Subquery(
            model.objects.filter(**{fk: OuterRef("pk")})
            .order_by()
            .values(fk)
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        0,
    )


REFERENCED_BY_LIMIT = 20  # rows named in an InUse error; the count covers them all


def in_use(label: str, error: ProtectedError | RestrictedError) -> InUse:
    """``InUse`` for a delete that Django refused because rows still reference ``label``.

    Names the first ``REFERENCED_BY_LIMIT`` referencing rows (by model, then id) and counts
    all of them per model in the message: "Team Payments is still referenced by 2 services
    and 1 schedule; reassign or delete them first."
    """
    rows = error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects
    rows = sorted(rows, key=lambda obj: (obj._meta.label_lower, str(obj.pk)))
    per_model: dict[str, int] = {}
    for obj in rows:
        per_model[obj._meta.label_lower] = per_model.get(obj._meta.label_lower, 0) + 1
    meta = {obj._meta.label_lower: obj._meta for obj in rows}
    counts = [
        f"{n} {meta[label_].verbose_name if n == 1 else meta[label_].verbose_name_plural}"
        for label_, n in per_model.items()
    ]
    listed = counts[0] if len(counts) == 1 else ", ".join(counts[:-1]) + f" and {counts[-1]}"
    return InUse(
        f"{label} is still referenced by {listed}; reassign or delete {'it' if len(rows) == 1 else 'them'} first.",
        referenced_by=[
            {"model": obj._meta.model_name, "id": obj.pk, "name": str(obj)}
            for obj in rows[:REFERENCED_BY_LIMIT]
        ],
        referenced_by_count=len(rows),
    )


def delete_or_conflict(instance: Model, *, label: str) -> None:
    """``instance.delete()``, or ``InUse`` naming what still references it (nothing deleted:
    Django refuses before it writes)."""
    try:
        instance.delete()
    except (ProtectedError, RestrictedError) as error:
        raise in_use(label, error) from None
