"""Filters of the package and drift-finding lists, shared by the API and the pages."""

import django_filters
from django.db.models import Exists, OuterRef

from agents.vocabulary import RiskTier
from api.filters import BlankIsAnyFilterSet, IdentifierFilter
from approvals.models import ApprovalPackage, DriftFinding, FindingStatus, PackageState, Severity
from approvals.selectors import shown_as
from signoffs.models import Dimension, SignOff, SignOffState


class PackageFilterSet(BlankIsAnyFilterSet):
    """The packages list's filters: the packages page and `GET /api/v1/packages` use this one."""

    state = django_filters.MultipleChoiceFilter(choices=PackageState.choices, method="state_shown")
    agent = IdentifierFilter(field_name="agent__slug", label="Agent", help_text="An agent's slug")
    team = IdentifierFilter(field_name="agent__team__slug", label="Team", help_text="A team's slug")
    owner = IdentifierFilter(
        field_name="agent__owners__username",
        label="Owner",
        help_text="The username of one of the agent's owners",
    )
    pending = django_filters.MultipleChoiceFilter(
        choices=Dimension.choices,
        method="sign_off_pending",
        label="Sign-off pending",
        help_text="In review with this dimension's sign-off still pending",
    )
    risk_tier = django_filters.MultipleChoiceFilter(choices=RiskTier.choices, label="Risk tier")

    class Meta:
        model = ApprovalPackage
        fields = ["state", "agent", "team", "owner", "pending", "risk_tier"]

    def state_shown(self, queryset, name, value):
        # As the list shows it: an approval past its expiry is expired at once.
        return queryset.filter(shown_as(value))

    def sign_off_pending(self, queryset, name, value):
        # A closed package can keep sign-offs nobody decided: only a review in progress waits.
        waiting = SignOff.objects.filter(
            package=OuterRef("pk"), dimension__in=value, state=SignOffState.PENDING
        )
        return queryset.filter(Exists(waiting), state=PackageState.IN_REVIEW)


class FindingFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=FindingStatus.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)

    class Meta:
        model = DriftFinding
        fields = ["status", "severity"]
