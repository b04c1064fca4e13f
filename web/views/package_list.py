"""The packages page: every version of the agents the user may see, filtered like the API."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_safe

from approvals.models import PackageState
from signoffs.models import Dimension, SignOffState
from web import selectors
from web.forms.errors import filters_ignored
from web.forms.package_list import package_filters

PAGE_SIZE = 25


@require_safe
@login_required
def package_list(request):
    user = request.user
    filters = package_filters(request.GET or None, selectors.packages_list(user), user)
    page = Paginator(filters.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for package in page.object_list:
        # Only a review in progress waits: a closed package's undecided sign-offs wait for no one.
        pending = {s.dimension for s in package.signoffs.all() if s.state == SignOffState.PENDING}
        waiting = package.state == PackageState.IN_REVIEW
        package.pending = [d for d in Dimension.values if d in pending] if waiting else []
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": filters.form,
        "ignored": filters_ignored(filters.form),
        "page": page,
        "query": query.urlencode(),
    }
    template = "packages/_list_table.html" if request.htmx else "packages/list.html"
    return render(request, template, context)
