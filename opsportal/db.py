"""Query helpers shared by every app."""

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce


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
