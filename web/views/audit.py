"""The audit log page."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from audit.permissions import can_read_audit
from config.errors import InvalidInput
from web import forms as web_forms
from web import selectors
from web.views.common import (
    audit_export_links,
)


@login_required
def audit_log(request):
    form = web_forms.AuditFilterForm(request.GET or None)
    page = selectors.AuditPage(events=[], newer=None, older=None)
    if not form.is_bound or form.is_valid():
        cleaned = getattr(form, "cleaned_data", {})
        try:
            page = selectors.audit_events(
                user=request.user,
                filters=request.GET,
                before=cleaned.get("before"),
                after=cleaned.get("after"),
            )
        except InvalidInput as error:
            for name, messages in error.fields.items():
                for message in messages:
                    form.add_error(name if name in form.fields else None, message)
    query = request.GET.copy()
    for key in ("before", "after"):
        query.pop(key, None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "actions": selectors.KNOWN_ACTIONS,
        "exports": audit_export_links() if can_read_audit(request.user) else [],
    }
    template = "audit/_events.html" if request.htmx else "audit/log.html"
    return render(request, template, context)
