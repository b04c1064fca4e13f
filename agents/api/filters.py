"""Filters of the agent list."""

import django_filters

from agents.models import Agent, AgentStatus
from agents.vocabulary import Deployment, RiskTier


class AgentFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=AgentStatus.choices)
    team = django_filters.CharFilter()
    deployment = django_filters.MultipleChoiceFilter(choices=Deployment.choices)
    risk_tier = django_filters.MultipleChoiceFilter(choices=RiskTier.choices)
    q = django_filters.CharFilter(method="search", label="Slug or name contains")

    class Meta:
        model = Agent
        fields = ["status", "team", "deployment", "risk_tier"]

    def search(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(slug__icontains=value) | Q(name__icontains=value))
