"""Filters of the audit trail, shared by the event list, the exports and the list page."""

import django_filters
from django.db.models import Q

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
