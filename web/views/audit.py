"""The audit log page."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from audit import signing
from audit.permissions import can_read_audit
from config.errors import InvalidInput
from web import audit_words, selectors
from web import forms as web_forms
from web.views.common import (
    audit_export_links,
)


@login_required
def audit_log(request):
    """Show one page of the audit trail; a filter with a bad value is reported and ignored."""
    form = web_forms.AuditFilterForm(request.GET or None)
    cleaned = {}
    if form.is_bound:
        form.is_valid()  # cleaned_data then holds the fields whose values are good
        cleaned = form.cleaned_data
    # The raw values go on: the selector and the exports read them with the same FilterSet.
    filters = {
        name: request.GET[name]
        for name in selectors.AUDIT_FILTERS
        if request.GET.get(name) and name not in form.errors
    }
    try:
        page = selectors.audit_events(
            user=request.user,
            filters=filters,
            before=cleaned.get("before"),
            after=cleaned.get("after"),
        )
    except InvalidInput as error:
        for name, messages in error.fields.items():
            for message in messages:
                form.add_error(name if name in form.fields else None, message)
        filters = {name: value for name, value in filters.items() if name not in error.fields}
        page = selectors.audit_events(user=request.user, filters=filters)
    query = request.GET.copy()
    for key in ("before", "after"):
        query.pop(key, None)
    exports, fingerprint = [], ""
    if can_read_audit(request.user):
        suffix = f"?{urlencode(filters)}" if filters else ""
        exports = [(label, href + suffix) for label, href in audit_export_links()]
        # What an evidence bundle's reader pins its verification to.
        fingerprint = signing.fingerprint()
    audit_words.describe(page.events)
    # Named by their labels, as the form shows them.
    ignored = [
        (form.fields[name].label or name.capitalize() if name in form.fields else "Filters", errs)
        for name, errs in form.errors.items()
    ]
    context = {
        "form": form,
        "page": page,
        "ignored": ignored,
        "query": query.urlencode(),
        "actions": selectors.KNOWN_ACTIONS,
        "exports": exports,
        "fingerprint": fingerprint,
    }
    template = "audit/_events.html" if request.htmx else "audit/log.html"
    return render(request, template, context)
