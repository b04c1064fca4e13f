"""Filters of the drift-finding list."""

import django_filters

from approvals.models import DriftFinding, FindingStatus, Severity


class FindingFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=FindingStatus.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)

    class Meta:
        model = DriftFinding
        fields = ["status", "severity"]
