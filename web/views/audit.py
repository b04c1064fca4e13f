"""The audit log page."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from audit import signing
from audit.models import VerificationRun
from audit.permissions import can_read_audit
from audit.verification import verification_latest, verification_request
from config.errors import InvalidInput
from web import audit_words, selectors
from web import forms as web_forms
from web.views.common import (
    actor_of,
    audit_export_links,
)

# How often, in seconds, the page of a run still walking the chain reloads itself.
VERIFICATION_REFRESH_SECONDS = 2


@require_safe
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
    exports, fingerprint, retired, verification = [], "", [], None
    if can_read_audit(request.user):
        verification = verification_latest()
        suffix = f"?{urlencode(filters)}" if filters else ""
        exports = [(label, href + suffix) for label, href in audit_export_links()]
        # What an evidence bundle's reader pins its verification to.
        fingerprint = signing.fingerprint()
        retired = signing.retired_fingerprints()
    audit_words.describe(page.events)
    context = {
        "form": form,
        "page": page,
        "ignored": web_forms.filters_ignored(form),
        "query": query.urlencode(),
        # Every action the page can describe is a suggestion; any other value matches exactly.
        "actions": tuple(audit_words.SENTENCES),
        "exports": exports,
        "fingerprint": fingerprint,
        "retired_fingerprints": retired,
        "verification": verification,
    }
    template = "audit/_events.html" if request.htmx else "audit/log.html"
    return render(request, template, context)


@require_POST
@login_required
def audit_verify_start(request):
    """Ask for the whole chain to be verified, then show the run's progress."""
    if not can_read_audit(request.user):
        raise PermissionDenied
    run, new = verification_request(actor=actor_of(request))
    if not new:
        messages.info(request, "A verification is already under way: here is its progress.")
    return redirect("audit-verification", pk=run.pk)


@require_safe
@login_required
def audit_verification(request, pk: int):
    """Show a verification run: its progress while it walks the chain, then its result.

    Until the run finishes the answer carries a `Refresh` header, so the page
    updates itself with or without JavaScript.
    """
    if not can_read_audit(request.user):
        raise PermissionDenied
    run = get_object_or_404(VerificationRun.objects.select_related("requested_by"), pk=pk)
    response = render(
        request,
        "audit/verification.html",
        {"run": run, "refresh": VERIFICATION_REFRESH_SECONDS, "fingerprint": signing.fingerprint()},
    )
    if not run.finished:
        response["Refresh"] = str(VERIFICATION_REFRESH_SECONDS)
    return response
