"""Filters of the audit trail, shared by the event list, the exports and the list page."""

import django_filters
from django import forms
from django.db import connections
from django.db.models import Q, QuerySet

from api.filters import IdentifierFilter
from audit.models import AuditEvent
from config.times import UTCDateTimeField

# Past this many agents, the events of a set of agents are read with one IN filter: as
# many index walks as agents cost more than the one walk they spare.
UNION_MAX_AGENTS = 100


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time in any offset, compared in UTC (see config.times)."""

    field_class = UTCDateTimeField


class AuditFilterForm(forms.Form):
    """The filters' values together: a range that ends at or before it starts is refused,
    as it can hold no event (`until` is exclusive)."""

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since is not None and until is not None and until <= since:
            self.add_error("until", "Must be later than since (From): no event lies in this range.")
        return cleaned


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
        form = AuditFilterForm
        fields = ["since", "until", "agent", "actor", "action"]

    def by_actor(self, queryset, name, value):
        return queryset.filter(Q(actor_label=value) | Q(actor_id=value))

    def parts(self, agents: list[str] | None = None) -> list[QuerySet]:
        """Return the filtered events (`qs`), of the `agents` only when given, as disjoint
        querysets, each read in `seq` order by an index of its own: the actor's events by
        label, then those by id alone; each of them per agent.

        For the actor filter's OR, PostgreSQL either reads every match and sorts
        them (the CI token's hundreds of thousands), or walks the whole trail back
        by `seq` until it has a page, past every later event when the actor's all
        lie far back; for `agent_slug IN (...)` it walks back the same way, past
        every other agent's events. Walked apart, each part's (column, seq) index
        yields its next events at once, so a page reads about its own rows
        (`first_of`). SQLite cannot limit the branches of a UNION: there the
        events stay whole, as they do past `UNION_MAX_AGENTS` agents.
        """
        events = self.qs
        cleaned = self.form.cleaned_data if self.is_bound else {}
        apart = connections[events.db].features.supports_slicing_ordering_in_compound
        parts = [events]
        if apart and cleaned.get("actor"):
            data = self.data.copy()
            del data["actor"]
            rest = type(self)(data, queryset=self.queryset).qs
            parts = [
                rest.filter(actor_label=cleaned["actor"]),
                rest.filter(actor_id=cleaned["actor"]).exclude(actor_label=cleaned["actor"]),
            ]
        if agents is None:
            return parts
        agents = list(dict.fromkeys(agents))
        if apart and 1 < len(agents) <= UNION_MAX_AGENTS and not cleaned.get("agent"):
            # Each part is limited to its one agent alone: with the IN beside it, PostgreSQL
            # takes the two for independent and expects next to no rows.
            return [part.filter(agent_slug=slug) for part in parts for slug in agents]
        return [part.filter(agent_slug__in=agents) for part in parts]


def first_of(parts: list[QuerySet], order: str, limit: int) -> QuerySet:
    """Return the first `limit` events of each of the disjoint `parts` in `order`, as one query.

    The first `limit` events of the parts' union in that order are among them:
    a page of the union ordered and sliced from this reads no further than each
    part's own page. The parts carry every filter and any position.
    """
    seqs = [part.order_by(order).values("seq")[:limit] for part in parts]
    return AuditEvent.objects.filter(seq__in=seqs[0].union(*seqs[1:], all=True))
