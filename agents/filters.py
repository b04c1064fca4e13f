"""Filters of agent lists: the agents page and the API list use this one FilterSet."""

import django_filters
from django.db.models import Q

from agents.models import Agent, AgentStatus
from agents.vocabulary import Deployment, RiskTier
from api.filters import BlankIsAnyFilterSet, IdentifierFilter, TextFilter


class AgentFilterSet(BlankIsAnyFilterSet):
    q = TextFilter(method="search", label="Search", help_text="Slug, name or description contains")
    status = django_filters.MultipleChoiceFilter(choices=AgentStatus.choices)
    team = IdentifierFilter(field_name="team__slug", help_text="A team's slug")
    deployment = django_filters.MultipleChoiceFilter(choices=Deployment.choices)
    risk_tier = django_filters.MultipleChoiceFilter(choices=RiskTier.choices, label="Risk tier")

    class Meta:
        model = Agent
        fields = ["q", "status", "team", "deployment", "risk_tier"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(slug__icontains=value) | Q(name__icontains=value) | Q(description__icontains=value)
        )
