"""Agent pages: list, registration, detail, editing, the kill switch, drift findings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_safe

from agents.permissions import (
    can_administer_members,
    can_edit,
    can_register,
    can_retire,
    can_suspend,
    permission_dimension,
    review_permission,
)
from agents.selectors import assignments, suspend_usable
from agents.services import agent_create
from approvals.findings import (
    can_handle_finding,
    finding_acknowledge,
    finding_resolve,
    findings_handleable,
)
from approvals.models import PackageState
from approvals.ownership import agent_update
from approvals.selectors import agent_status
from approvals.services import agent_suspend as agent_suspend_service
from config.errors import ApplicationError, InvalidInput, NotPermitted
from web import audit_words, selectors
from web import forms as web_forms
from web.forms import agent_filters
from web.views.common import (
    actor_of,
    agent_or_404,
    agent_stop,
    refused,
)
from web.views.usage import usage_context


@require_safe
@login_required
def agent_list(request):
    user = request.user
    filters = agent_filters(request.GET or None, selectors.agents_list(user), user)
    page = Paginator(filters.qs, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": filters.form,
        "ignored": web_forms.filters_ignored(filters.form),
        "page": page,
        "query": query.urlencode(),
        "can_register": not request.htmx and bool(can_register(user)),
    }
    template = "agents/_table.html" if request.htmx else "agents/list.html"
    return render(request, template, context)


@login_required
def agent_new(request):
    check = can_register(request.user)
    if not check:
        return refused(request, NotPermitted(check.message, code=check.code))
    form = web_forms.AgentCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            agent = agent_create(actor=actor_of(request), **form.cleaned_data)
        except InvalidInput as error:
            web_forms.errors_show(error, form)
        else:
            messages.success(request, f"Agent {agent.slug} registered. Now write its package.")
            return redirect(agent)
    return render(request, "agents/new.html", {"form": form})


@require_safe
@login_required
def agent_detail(request, slug):
    agent = agent_or_404(request, slug)
    packages = list(selectors.agent_packages(agent))
    # As the gate sees it now: an approval past its expiry reads as expired at once.
    agent.status, agent.risk_tier = agent_status(agent, packages)
    current = next((p for p in packages if p.state_shown == PackageState.APPROVED), None)
    approved = next((p for p in packages if p.approved_at is not None), None)
    held = assignments(agent)
    drift = list(
        agent.drift_findings.select_related("agent", "package__agent").order_by("-last_seen")[:50]
    )
    handleable = findings_handleable(request.user, drift)
    context = {
        "agent": agent,
        "owners": list(agent.owners.order_by("username")),
        "packages": packages,
        "current": current,
        "last_approved": approved,
        "draft": next((p for p in packages if p.state == PackageState.DRAFT), None),
        "drift": drift,
        "handleable": handleable,
        "events": audit_words.describe(selectors.audit_timeline(agent)),
        "may_edit": bool(can_edit(request.user, agent)),
        "may_suspend": bool(can_suspend(request.user, agent))
        and not agent.is_suspended
        and not agent.is_retired,
        "may_retire": not agent.is_retired and bool(can_retire(request.user, agent)),
        "may_handle_findings": bool(handleable),
        "may_administer": bool(can_administer_members(request.user)),
        "reviewers": [
            {"dimension": permission_dimension(p), "users": users}
            for p, users in held.items()
            if permission_dimension(p) and p == review_permission(permission_dimension(p))
        ],
        "suspenders": suspend_usable(held),
        **usage_context(request.user, agent, current, current),
    }
    return render(request, "agents/detail.html", context)


@login_required
def agent_edit(request, slug):
    agent = agent_or_404(request, slug)
    if not can_edit(request.user, agent):
        return refused(
            request, InvalidInput("Only the agent's owners and staff may change it."), status=403
        )
    initial = {
        "name": agent.name,
        "team": agent.team,
        "description": agent.description,
        "owners": ", ".join(agent.owners.order_by("username").values_list("username", flat=True)),
    }
    form = web_forms.AgentUpdateForm(
        request.POST or None, initial=initial, user=request.user, agent=agent
    )
    if request.method == "POST" and form.is_valid():
        try:
            agent_update(actor=actor_of(request), agent=agent, **form.cleaned_data)
        except ApplicationError as error:
            web_forms.errors_show(error, form)
        else:
            messages.success(request, "Agent updated.")
            return redirect(agent)
    return render(request, "agents/edit.html", {"form": form, "agent": agent})


@login_required
def agent_suspend(request, slug):
    """Pull the kill switch in two steps: give a reason, then confirm it."""
    agent = agent_or_404(request, slug)
    return agent_stop(
        request,
        agent,
        check=can_suspend(request.user, agent),
        stop=agent_suspend_service,
        stopped=agent.is_suspended,
        template="agents/suspend.html",
        done=f"{agent.slug} is suspended: every gate check denies.",
    )


@login_required
def finding_handle(request, slug, pk):
    """Acknowledge or resolve one drift finding of the agent (security reviewers and staff,
    never its owners nor the authors of the package it is filed under)."""
    agent = agent_or_404(request, slug)
    finding = get_object_or_404(
        agent.drift_findings.select_related("agent", "package__agent"), pk=pk
    )
    check = can_handle_finding(request.user, finding)
    if not check:
        return refused(request, NotPermitted(check.message, code=check.code), status=403)
    form = web_forms.FindingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["text"]
        try:
            if form.cleaned_data["action"] == web_forms.FindingForm.ACKNOWLEDGE:
                finding_acknowledge(actor=actor_of(request), finding=finding, note=text)
            else:
                finding_resolve(actor=actor_of(request), finding=finding, resolution=text)
        except InvalidInput as error:
            for field, message in web_forms.errors_apply(error, form):
                form.add_error("text" if field in ("resolution", "note") else None, message)
        except ApplicationError as error:
            return refused(request, error)
        else:
            messages.success(request, f"Finding {form.cleaned_data['action']}d.")
            return redirect(agent)
    return render(
        request,
        "agents/finding.html",
        {"agent": agent, "finding": finding, "form": form},
        status=400 if form.errors else 200,
    )
