"""The packages page's filters: the API's FilterSet, with choices from what the user sees."""

from django import forms

from approvals.filters import PackageFilterSet
from web import selectors

BLANK = [("", "Any")]


def package_filters(data, queryset, user) -> PackageFilterSet:
    """Return the packages list's filters (the API's FilterSet), teams offered from those visible.

    A value that is not valid is left out of the filtering, not shown as an error page.
    """
    filters = PackageFilterSet(data, queryset=queryset)
    fields = filters.form.fields
    teams = [(team, team) for team in selectors.teams_visible(user)]
    fields["team"].widget = forms.Select(choices=BLANK + teams)
    for name in ("state", "pending", "risk_tier"):
        fields[name].widget.attrs["size"] = 4
    return filters
