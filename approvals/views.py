"""Server-rendered pages. Thin: they read through selectors and write through services."""

import hashlib
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from agents.models import Agent
from agents.permissions import can_edit, can_register, can_suspend
from agents.services import agent_create, agent_update
from approvals import forms as web_forms
from approvals import selectors
from approvals.drift import can_handle_finding, finding_acknowledge, finding_resolve
from approvals.manifest import risk_tier_reasons
from approvals.models import ApprovalPackage, PackageState
from approvals.services import agent_suspend as agent_suspend_service
from approvals.services import (
    last_approved,
    package_create,
    package_submit,
    package_update_draft,
    signoff_decide,
)
from audit.actors import Actor
from audit.permissions import can_read_audit
from config.errors import ApplicationError, InvalidInput, NotPermitted
from signoffs.models import Dimension, SignOffState, Verdict
from signoffs.permissions import can_decide

# Sign-in attempts: this many failures for one username from one address within
# the window lock further attempts out until it passes. There is no limit per
# address alone: behind a proxy every person shares one address.
LOGIN_MAX_FAILURES = 5
LOGIN_WINDOW_SECONDS = 15 * 60


def _actor(request) -> Actor:
    return Actor.for_user(request.user)


def _refused(request, error: ApplicationError, *, status: int | None = None):
    """Render a domain refusal as a page with the error's status."""
    return render(request, "refused.html", {"error": error}, status=status or error.status_code)


# ----------------------------------------------------------------------------- sign in


def _login_key(request, username: str) -> str:
    address = request.META.get("REMOTE_ADDR", "")
    who = hashlib.sha256(f"{address}|{username.strip().lower()}".encode()).hexdigest()
    return f"login-fail:{who}"


def login_rate_limited(view):
    """Wrap a sign-in view: refuse attempts after repeated failures, count the failures.

    A failed attempt is one answered by showing the form again (200); success
    redirects and clears the count. Used for the site's and the admin's sign-in.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        key = _login_key(request, request.POST.get("username", ""))
        if (cache.get(key) or 0) >= LOGIN_MAX_FAILURES:
            context = {
                "form": AuthenticationForm(request),
                "locked": True,
                "next": request.POST.get("next", ""),
            }
            return render(request, "registration/login.html", context, status=429)
        response = view(request, *args, **kwargs)
        if response.status_code == 200:
            cache.add(key, 0, LOGIN_WINDOW_SECONDS)
            cache.incr(key)
        else:
            cache.delete(key)
        return response

    return wrapped


@method_decorator(login_rate_limited, name="post")
class LoginView(auth_views.LoginView):
    """Django's sign-in, refusing further attempts after repeated failures."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True


# ----------------------------------------------------------------------------- dashboard


def _age(delta) -> str:
    """Return a waiting time as a short label: '3 d 4 h', '5 h 10 min' or '7 min'."""
    minutes = int(delta.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@login_required
def dashboard(request):
    user = request.user
    queue = list(selectors.packages_awaiting(user)[:50])
    now = timezone.now()
    for signoff in queue:
        signoff.age = _age(now - (signoff.package.submitted_at or signoff.created_at))
    package_counts = selectors.package_state_counts(user)
    agent_counts = selectors.agent_status_counts(user)
    context = {
        "queue": queue,
        "dimensions": selectors.user_dimensions(user),
        "package_counts": [
            (state, label, package_counts[state]) for state, label in PackageState.choices
        ],
        "agent_counts": agent_counts,
        "agents_total": sum(agent_counts.values()),
        "expiring": list(selectors.approvals_expiring(user)[:20]),
        "expiring_count": selectors.approvals_expiring(user).count(),
        "drift": list(selectors.drift_open(user)[:20]),
        "drift_count": selectors.drift_open(user).count(),
        "suspended": list(selectors.agents_suspended(user)[:20]),
        "lead_days": settings.COUNTERSIGN["RECERTIFICATION_LEAD_DAYS"],
        "can_register": bool(can_register(user)),
    }
    return render(request, "dashboard.html", context)


# ----------------------------------------------------------------------------- agents


@login_required
def agent_list(request):
    user = request.user
    form = web_forms.AgentFilterForm(request.GET or None, teams=selectors.teams_visible(user))
    agents = selectors.agents_list(user=user, **form.filters())
    page = Paginator(agents, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
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
        return _refused(request, NotPermitted(check.message, code=check.code))
    form = web_forms.AgentCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            agent = agent_create(actor=_actor(request), **form.cleaned_data)
        except InvalidInput as error:
            for message in web_forms.errors_apply(error, form):
                form.add_error(None, message[1])
        else:
            messages.success(request, f"Agent {agent.slug} registered. Now write its package.")
            return redirect(agent)
    return render(request, "agents/new.html", {"form": form})


def _agent_or_404(request, slug) -> Agent:
    return get_object_or_404(selectors.agents_visible(request.user), slug=slug)


@login_required
def agent_detail(request, slug):
    agent = _agent_or_404(request, slug)
    packages = list(selectors.agent_packages(agent))
    current = next((p for p in packages if p.state == PackageState.APPROVED), None)
    approved = next((p for p in packages if p.approved_at is not None), None)
    context = {
        "agent": agent,
        "owners": list(agent.owners.order_by("username")),
        "packages": packages,
        "current": current,
        "last_approved": approved,
        "draft": next((p for p in packages if p.state == PackageState.DRAFT), None),
        "drift": list(agent.drift_findings.order_by("-last_seen")[:50]),
        "events": selectors.audit_timeline(agent),
        "may_edit": bool(can_edit(request.user, agent)),
        "may_suspend": bool(can_suspend(request.user, agent)) and not agent.is_suspended,
        "may_handle_findings": bool(can_handle_finding(request.user)),
    }
    return render(request, "agents/detail.html", context)


@login_required
def agent_edit(request, slug):
    agent = _agent_or_404(request, slug)
    if not can_edit(request.user, agent):
        return _refused(
            request, InvalidInput("Only the agent's owners and staff may change it."), status=403
        )
    initial = {
        "name": agent.name,
        "team": agent.team,
        "description": agent.description,
        "owners": ", ".join(agent.owners.order_by("username").values_list("username", flat=True)),
    }
    form = web_forms.AgentUpdateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            agent_update(actor=_actor(request), agent=agent, **form.cleaned_data)
        except ApplicationError as error:
            for _, message in web_forms.errors_apply(error, form):
                form.add_error(None, message)
        else:
            messages.success(request, "Agent updated.")
            return redirect(agent)
    return render(request, "agents/edit.html", {"form": form, "agent": agent})


@login_required
def agent_suspend(request, slug):
    """Pull the kill switch in two steps: give a reason, then confirm it."""
    agent = _agent_or_404(request, slug)
    check = can_suspend(request.user, agent)
    if not check:
        return _refused(request, InvalidInput(check.message, code=check.code), status=403)
    form = web_forms.SuspendForm(request.POST or None)
    confirming = False
    if request.method == "POST" and form.is_valid():
        if request.POST.get("step") != "confirm":
            confirming = True
        else:
            try:
                agent_suspend_service(
                    actor=_actor(request), agent=agent, reason=form.cleaned_data["reason"]
                )
            except InvalidInput as error:
                for _, message in web_forms.errors_apply(error, form):
                    form.add_error(None, message)
            except ApplicationError as error:
                return _refused(request, error)
            else:
                messages.warning(request, f"{agent.slug} is suspended: every gate check denies.")
                return redirect(agent)
    return render(
        request, "agents/suspend.html", {"agent": agent, "form": form, "confirming": confirming}
    )


@login_required
def finding_handle(request, slug, pk):
    """Acknowledge or resolve one drift finding of the agent (security reviewers and staff)."""
    agent = _agent_or_404(request, slug)
    finding = get_object_or_404(agent.drift_findings, pk=pk)
    check = can_handle_finding(request.user)
    if not check:
        return _refused(request, NotPermitted(check.message, code=check.code), status=403)
    form = web_forms.FindingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["text"]
        try:
            if form.cleaned_data["action"] == web_forms.FindingForm.ACKNOWLEDGE:
                finding_acknowledge(actor=_actor(request), finding=finding, note=text)
            else:
                finding_resolve(actor=_actor(request), finding=finding, resolution=text)
        except InvalidInput as error:
            for field, message in web_forms.errors_apply(error, form):
                form.add_error("text" if field in ("resolution", "note") else None, message)
        except ApplicationError as error:
            return _refused(request, error)
        else:
            messages.success(request, f"Finding {form.cleaned_data['action']}d.")
            return redirect(agent)
    return render(
        request, "agents/finding.html", {"agent": agent, "finding": finding, "form": form}
    )


# ----------------------------------------------------------------------------- packages


def _package_or_404(request, slug, version) -> ApprovalPackage:
    return get_object_or_404(
        ApprovalPackage.objects.select_related("agent", "base", "created_by", "submitted_by"),
        agent__in=selectors.agents_visible(request.user),
        agent__slug=slug,
        version=version,
    )


def _editor_source(agent: Agent) -> dict:
    """Return the manifest a new draft starts from: the latest version, or the agent's fields."""
    latest = agent.packages.order_by("-version").only("manifest").first()
    if latest is not None:
        return latest.manifest
    return {
        "name": agent.name,
        "team": agent.team or None,
        "deployment": agent.deployment,
        "description": agent.description or None,
        "identity": {"workload_id": agent.workload_id, "log_principal": agent.log_principal},
        "enforcement": {"point": "gateway", "engine": "cedar", "mode": "enforce"},
        "credentials": {"method": "spiffe_svid", "jit": True},
        "chaining": {"allowed": False, "max_depth": 0},
        "scope": {},
    }


def _editor(request, agent: Agent, package: ApprovalPackage | None):
    """Show and save the package editor for a new draft (no package) or an existing one."""
    if not can_edit(request.user, agent):
        return _refused(
            request,
            InvalidInput("Only the agent's owners and staff may write its packages."),
            status=403,
        )
    if package is not None and not package.is_editable:
        messages.info(request, "A submitted package is immutable; create a new version.")
        return redirect(package)
    errors: list = []
    upload = web_forms.ManifestUploadForm()
    if request.method == "POST":
        form = web_forms.PackageForm(request.POST)
        scope = web_forms.ScopeEditor.from_post(
            request.POST,
            add=request.POST.get("add_row", ""),
            remove=request.POST.get("remove_row", ""),
        )
        editing_rows = "add_row" in request.POST or "remove_row" in request.POST
        if not editing_rows and form.is_valid() & scope.is_valid():
            manifest = web_forms.manifest_build(
                agent_slug=agent.slug, cleaned=form.cleaned_data, scope=scope.scope()
            )
            saved, errors = _save(request, agent, package, manifest, form, scope)
            if saved is not None:
                return saved
    else:
        source = package.manifest if package is not None else _editor_source(agent)
        form = web_forms.PackageForm(initial=web_forms.manifest_initial(source))
        scope = web_forms.ScopeEditor.from_manifest(source)
    context = {
        "agent": agent,
        "package": package,
        "form": form,
        "scope": scope,
        "upload": upload,
        "errors": errors,
        "base": last_approved(agent),
    }
    return render(request, "packages/edit.html", context)


def _save(request, agent, package, manifest, form=None, scope=None):
    """Create or update the draft, and submit it when asked; return (response, errors)."""
    actor = _actor(request)
    try:
        if package is None:
            package = package_create(actor=actor, agent=agent, manifest=manifest)
        else:
            package = package_update_draft(actor=actor, package=package, manifest=manifest)
    except ApplicationError as error:
        if form is None:
            return None, web_forms.errors_apply(error, web_forms.PackageForm())
        return None, web_forms.errors_apply(error, form, scope)
    if request.POST.get("then") == "submit":
        try:
            package_submit(actor=actor, package=package)
        except ApplicationError as error:
            messages.error(
                request, f"Saved v{package.version} as a draft, not submitted: {error.message}"
            )
            return redirect("package-edit", slug=agent.slug, version=package.version), []
        messages.success(request, f"v{package.version} submitted for review.")
        return redirect(package), []
    messages.success(request, f"Draft v{package.version} saved.")
    return redirect("package-edit", slug=agent.slug, version=package.version), []


@login_required
def package_new(request, slug):
    return _editor(request, _agent_or_404(request, slug), None)


@login_required
def package_edit(request, slug, version):
    package = _package_or_404(request, slug, version)
    return _editor(request, package.agent, package)


@login_required
@require_POST
def package_upload(request, slug):
    """Create (or replace the given draft with) a manifest file's contents."""
    agent = _agent_or_404(request, slug)
    version = request.POST.get("version", "")
    if version and not version.isdigit():
        raise Http404("No such version.")
    package = _package_or_404(request, slug, int(version)) if version else None
    upload = web_forms.ManifestUploadForm(request.POST, request.FILES)
    errors = []
    if upload.is_valid():
        actor = _actor(request)
        try:
            if package is None:
                package = package_create(
                    actor=actor,
                    agent=agent,
                    manifest=upload.cleaned_data["manifest_file"],
                    content_type=upload.content_type,
                )
            else:
                package = package_update_draft(
                    actor=actor,
                    package=package,
                    manifest=upload.cleaned_data["manifest_file"],
                    content_type=upload.content_type,
                )
        except ApplicationError as error:
            if not error.fields and error.status_code != 400:
                return _refused(request, error)
            errors = web_forms.errors_apply(error, web_forms.ManifestUploadForm())
        else:
            messages.success(request, f"Draft v{package.version} created from the file.")
            return redirect("package-edit", slug=agent.slug, version=package.version)
    source = package.manifest if package is not None else _editor_source(agent)
    context = {
        "agent": agent,
        "package": package,
        "form": web_forms.PackageForm(initial=web_forms.manifest_initial(source)),
        "scope": web_forms.ScopeEditor.from_manifest(source),
        "upload": upload,
        "errors": errors,
        "upload_failed": True,
        "base": last_approved(agent),
    }
    return render(request, "packages/edit.html", context, status=400)


@login_required
@require_POST
def package_clone(request, slug, version):
    """Start a new draft from a version's manifest (usually the approved one)."""
    source = _package_or_404(request, slug, version)
    try:
        package = package_create(
            actor=_actor(request), agent=source.agent, manifest=source.manifest
        )
    except ApplicationError as error:
        return _refused(request, error)
    messages.success(request, f"Draft v{package.version} started from v{source.version}.")
    return redirect("package-edit", slug=slug, version=package.version)


@login_required
@require_POST
def package_submit_view(request, slug, version):
    package = _package_or_404(request, slug, version)
    try:
        package_submit(actor=_actor(request), package=package)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("package-edit", slug=slug, version=version)
    messages.success(request, f"v{package.version} submitted for review.")
    return redirect(package)


def _review_context(request, package, forms_by_dimension=None):
    """Return the review page's context: diff, risk, sign-off cards and the forms I may use."""
    user = request.user
    signoffs = selectors.package_signoffs(package)
    forms_by_dimension = forms_by_dimension or {}
    cards = []
    in_review = package.state == PackageState.IN_REVIEW
    for signoff in signoffs:
        decisions = list(signoff.decisions.all())
        check = can_decide(user, signoff) if in_review else None
        form = None
        if check and signoff.state == SignOffState.PENDING:
            form = forms_by_dimension.get(signoff.dimension) or web_forms.DecisionForm(
                signoff=signoff, prefix=signoff.dimension
            )
        cards.append(
            {
                "signoff": signoff,
                "decisions": decisions,
                "approvals": sum(1 for d in decisions if d.verdict == Verdict.APPROVE),
                "form": form,
                # Why a member of the dimension's group may not decide it (not shown to others).
                "refusal": check.message
                if check is not None and not check and check.code != "not_reviewer"
                else "",
            }
        )
    diff = package.diff or {}
    return {
        "package": package,
        "agent": package.agent,
        "manifest": package.manifest,
        "scope_rows": _scope_rows(package.manifest),
        "reasons": risk_tier_reasons(package.manifest),
        "diff": diff,
        "diff_base": package.base
        if package.state != PackageState.DRAFT
        else last_approved(package.agent),
        "cards": cards,
        "needs_full_review": bool(diff.get("expansions")) and package.base_id is not None,
        "may_edit": bool(can_edit(user, package.agent)),
        "exports": _export_links(package)
        if can_read_audit(user) and package.state != PackageState.DRAFT
        else [],
    }


def _scope_rows(manifest: dict) -> list[tuple[str, dict]]:
    return [
        (web_forms.SCOPE_LABELS[kind], entry)
        for kind in web_forms.SCOPE_LABELS
        for entry in manifest.get("scope", {}).get(kind, [])
    ]


def _export_links(package=None) -> list[tuple[str, str]]:
    """Return the audit exports and evidence downloads the API offers, where it has them."""
    from django.urls import NoReverseMatch

    links = []
    if package is not None:
        candidates = [
            (
                "Evidence bundle (ZIP)",
                "api-package-evidence",
                {"slug": package.agent.slug, "version": package.version},
            )
        ]
    else:
        candidates = [
            ("Export CSV", "audit-export-csv", {}),
            ("Export JSON Lines", "audit-export-jsonl", {}),
        ]
    for label, name, kwargs in candidates:
        try:
            links.append((label, reverse(name, kwargs=kwargs)))
        except NoReverseMatch:
            continue
    return links


@login_required
def package_detail(request, slug, version):
    package = _package_or_404(request, slug, version)
    return render(request, "packages/review.html", _review_context(request, package))


@login_required
def package_decide(request, slug, version, dimension):
    """Record the signed-in reviewer's decision on one dimension; the service re-checks all."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if dimension not in Dimension.values:
        raise Http404("No such dimension.")
    package = _package_or_404(request, slug, version)
    signoff = package.signoffs.select_related("checklist").filter(dimension=dimension).first()
    if signoff is None:
        return _refused(request, InvalidInput("This package has no sign-offs yet."), status=409)
    form = web_forms.DecisionForm(request.POST, signoff=signoff, prefix=dimension)
    if form.is_valid():
        try:
            signoff_decide(
                actor=_actor(request),
                package=package,
                dimension=dimension,
                verdict=form.cleaned_data["verdict"],
                comment=form.cleaned_data["comment"],
                answers=form.answers(),
            )
        except InvalidInput as error:
            for _, message in web_forms.errors_apply(error, form):
                form.add_error(None, message)
        except ApplicationError as error:
            return _refused(request, error)
        else:
            messages.success(
                request, f"Your {signoff.get_dimension_display()} decision is recorded."
            )
            return redirect(package)
    package.refresh_from_db()
    context = _review_context(request, package, {dimension: form})
    return render(request, "packages/review.html", context, status=400)


# ----------------------------------------------------------------------------- audit


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
        "exports": _export_links() if can_read_audit(request.user) else [],
    }
    template = "audit/_events.html" if request.htmx else "audit/log.html"
    return render(request, template, context)
