"""Filters of the audit trail, shared by the event list, the exports and the list page."""

import django_filters
from django.db import connections
from django.db.models import Q, QuerySet

from api.filters import IdentifierFilter
from audit.models import AuditEvent
from config.times import UTCDateTimeField


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time in any offset, compared in UTC (see config.times)."""

    field_class = UTCDateTimeField


class AuditEventFilterSet(django_filters.FilterSet):
    since = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="From (inclusive, ISO 8601)"
    )
    until = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Until (exclusive, ISO 8601)"
    )
    agent = IdentifierFilter(field_name="agent_slug", label="Agent slug")
    actor = IdentifierFilter(method="by_actor", label="Actor username or id")
    action = IdentifierFilter(field_name="action", label="Action")

    class Meta:
        model = AuditEvent
        fields = ["since", "until", "agent", "actor", "action"]

    def by_actor(self, queryset, name, value):
        return queryset.filter(Q(actor_label=value) | Q(actor_id=value))

    def parts(self) -> list[QuerySet]:
        """Return the filtered events (`qs`) as disjoint querysets, each read in `seq` order
        by an index of its own: the actor's events by label, then those by id alone.

        For the actor filter's OR, PostgreSQL either reads every match and sorts
        them (the CI token's hundreds of thousands), or walks the whole trail back
        by `seq` until it has a page, past every later event when the actor's all
        lie far back. Walked apart, each part's (column, seq) index yields its
        next events at once, so a page reads about its own rows (`first_of`).
        SQLite cannot limit the branches of a UNION: there the events stay whole.
        """
        events = self.qs
        actor = self.form.cleaned_data.get("actor") if self.is_bound else None
        if not actor or not connections[events.db].features.supports_slicing_ordering_in_compound:
            return [events]
        data = self.data.copy()
        del data["actor"]
        rest = type(self)(data, queryset=self.queryset).qs
        return [
            rest.filter(actor_label=actor),
            rest.filter(actor_id=actor).exclude(actor_label=actor),
        ]


def first_of(parts: list[QuerySet], order: str, limit: int) -> QuerySet:
    """Return the first `limit` events of each of the disjoint `parts` in `order`, as one query.

    The first `limit` events of the parts' union in that order are among them:
    a page of the union ordered and sliced from this reads no further than each
    part's own page. The parts carry every filter and any position.
    """
    seqs = [part.order_by(order).values("seq")[:limit] for part in parts]
    return AuditEvent.objects.filter(seq__in=seqs[0].union(*seqs[1:], all=True))
