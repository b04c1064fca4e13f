"""Package pages: the editor, manifest upload, submission, the review page and decisions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from agents.models import Agent
from agents.permissions import can_edit
from agents.vocabulary import CredentialMethod, EnforcementMode, EnforcementPoint, PolicyEngine
from approvals.depth import FULL, LIGHT, review_depth
from approvals.manifest import risk_tier_reasons
from approvals.models import ApprovalPackage, PackageState
from approvals.rereview import review_plan_preview
from approvals.selectors import last_approved, package_in_force
from approvals.services import (
    package_create,
    package_submit,
    package_update_draft,
    signoff_decide,
)
from audit.permissions import can_read_audit
from config.errors import ApplicationError, InvalidInput, NotPermitted
from signoffs.models import Dimension, SignOffState, Verdict
from signoffs.permissions import can_decide, decision_standing
from web import forms as web_forms
from web import review, selectors
from web.conversation import conversation, decision_thread, scope_rows_annotate
from web.views.common import (
    actor_of,
    agent_or_404,
    evidence_links,
    form_kept,
    package_or_404,
    refused,
    step_up_kept,
    step_up_needed,
)
from web.views.emergency import emergency_context
from web.views.usage import usage_context


def _editor_source(agent: Agent) -> dict:
    """Return the manifest a new draft starts from: the latest version, or the agent's fields."""
    latest = agent.packages.order_by("-version").only("manifest").first()
    if latest is not None:
        return latest.manifest
    return {
        "name": agent.name,
        "team": agent.team.slug if agent.team_id else None,
        "deployment": agent.deployment,
        "description": agent.description or None,
        "identity": {"workload_id": agent.workload_id, "log_principal": agent.log_principal},
        "enforcement": {
            "point": EnforcementPoint.GATEWAY,
            "engine": PolicyEngine.CEDAR,
            "mode": EnforcementMode.ENFORCE,
        },
        "credentials": {"method": CredentialMethod.SPIFFE_SVID, "jit": True},
        "chaining": {"allowed": False, "max_depth": 0},
        "scope": {},
    }


def _refused_unless_writer(request, agent: Agent):
    """Return the refusal of a user who may not write the agent's packages; None if they may."""
    if can_edit(request.user, agent):
        return None
    return refused(
        request,
        InvalidInput("Only the agent's owners and staff may write its packages."),
        status=403,
    )


def _editor(request, agent: Agent, package: ApprovalPackage | None):
    """Show and save the package editor for a new draft (no package) or an existing one."""
    denied = _refused_unless_writer(request, agent)
    if denied is not None:
        return denied
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
    summary = []
    if request.method == "POST" and not editing_rows:
        summary = web_forms.error_summary(form=form, scope=scope, rest=errors)
    context = {
        "agent": agent,
        "package": package,
        "form": form,
        "scope": scope,
        "upload": upload,
        "errors": errors,
        "summary": summary,
        **_draft_review(agent, package),
    }
    return render(request, "packages/edit.html", context)


def _draft_review(agent, package) -> dict:
    """Return the approved base, the draft's changes needing review and its review plan.

    The plan is the one submitting the draft now would give: a rise of the risk tier, a
    due re-certification or an owner's decision re-opens sign-offs the changes alone
    would carry over, and the editor says so before the owner submits.
    """
    changes = selectors.changes_needing_review(package and package.diff)
    return {
        "base": last_approved(agent),
        "review_changes": changes,
        "plan": review_plan_preview(package).as_dict() if changes else {},
    }


def _save(request, agent, package, manifest, form=None, scope=None):
    """Create or update the draft, and submit it when asked; return (response, errors)."""
    actor = actor_of(request)
    try:
        if package is None:
            package = package_create(actor=actor, agent=agent, manifest=manifest)
        else:
            package = package_update_draft(actor=actor, package=package, manifest=manifest)
    except ApplicationError as error:
        if form is None:
            return None, web_forms.errors_apply(error, web_forms.PackageForm())
        return None, web_forms.errors_apply(error, form, scope)
    return _then(request, package, f"Draft v{package.version} saved."), []


def _then(request, package, saved: str):
    """After a draft is saved: submit it when the user asked to, else reopen its editor."""
    slug = package.agent.slug
    if request.POST.get("then") == "submit":
        try:
            package_submit(actor=actor_of(request), package=package)
        except ApplicationError as error:
            messages.error(
                request, f"Saved v{package.version} as a draft, not submitted: {error.message}"
            )
            return redirect("package-edit", slug=slug, version=package.version)
        messages.success(request, f"v{package.version} submitted for review.")
        return redirect(package)
    messages.success(request, saved)
    return redirect("package-edit", slug=slug, version=package.version)


@login_required
def package_new(request, slug):
    return _editor(request, agent_or_404(request, slug), None)


@login_required
def package_edit(request, slug, version):
    package = package_or_404(request, slug, version)
    return _editor(request, package.agent, package)


@login_required
@require_POST
def package_upload(request, slug):
    """Create (or replace the given draft with) a manifest file's or pasted text's contents.

    The draft then opens in the editor, or is submitted at once when asked.
    """
    agent = agent_or_404(request, slug)
    # Refused before the upload is read: its errors come back in the editor, which
    # only those who may write the agent's packages are shown.
    denied = _refused_unless_writer(request, agent)
    if denied is not None:
        return denied
    upload = web_forms.ManifestUploadForm(request.POST, request.FILES)
    valid = upload.is_valid()
    if "version" in upload.errors:
        # The hidden field names the draft to replace; without a readable one there is no
        # draft to show the upload's errors in, so the refusal is a page of its own.
        problems = list(upload.errors["version"])
        message = f"version: {' '.join(problems)}"
        return refused(request, InvalidInput(message, fields={"version": problems}))
    version = upload.cleaned_data["version"]
    package = package_or_404(request, slug, version) if version else None
    errors = []
    if valid:
        actor = actor_of(request)
        try:
            if package is None:
                package = package_create(
                    actor=actor,
                    agent=agent,
                    manifest=upload.manifest(),
                    content_type=upload.content_type,
                )
            else:
                package = package_update_draft(
                    actor=actor,
                    package=package,
                    manifest=upload.manifest(),
                    content_type=upload.content_type,
                )
        except ApplicationError as error:
            if not error.fields and error.status_code != 400:
                return refused(request, error)
            errors = web_forms.errors_apply(error, web_forms.ManifestUploadForm())
            # Shown beside the control the manifest came from, where the user's attention is.
            control = "manifest_file" if upload.cleaned_data["manifest_file"] else "manifest_text"
            for path, message in errors:
                upload.add_error(control, f"{path}: {message}" if path else message)
        else:
            return _then(request, package, f"Draft v{package.version} saved from the manifest.")
    source = package.manifest if package is not None else _editor_source(agent)
    context = {
        "agent": agent,
        "package": package,
        "form": web_forms.PackageForm(initial=web_forms.manifest_initial(source)),
        "scope": web_forms.ScopeEditor.from_manifest(source),
        "upload": upload,
        "errors": errors,
        "summary": web_forms.error_summary(upload=upload),
        "upload_failed": True,
        **_draft_review(agent, package),
    }
    return render(request, "packages/edit.html", context, status=400)


@login_required
@require_POST
def package_clone(request, slug, version):
    """Start a new draft from a version's manifest (usually the approved one)."""
    source = package_or_404(request, slug, version)
    try:
        package = package_create(
            actor=actor_of(request), agent=source.agent, manifest=source.manifest
        )
    except ApplicationError as error:
        return refused(request, error)
    messages.success(request, f"Draft v{package.version} started from v{source.version}.")
    return redirect("package-edit", slug=slug, version=package.version)


@login_required
@require_POST
def package_submit_view(request, slug, version):
    package = package_or_404(request, slug, version)
    try:
        package_submit(actor=actor_of(request), package=package)
    except NotPermitted as error:
        # The editor it would go back to refuses this user too: say why, with the status.
        return refused(request, error)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("package-edit", slug=slug, version=version)
    messages.success(request, f"v{package.version} submitted for review.")
    return redirect(package)


def review_context(request, package, forms_by_dimension=None, *, comment_form=None):
    """Return the review page's context: changes, scope, risk, sign-off cards, my forms."""
    user = request.user
    signoffs = selectors.package_signoffs(package)
    shown = request.GET.get("comment", "")
    talk = conversation(
        package,
        user,
        bound=comment_form,
        about=request.GET.get("about", ""),
        comment=int(shown) if shown.isascii() and shown.isdigit() and len(shown) <= 18 else None,
    )
    forms_by_dimension = forms_by_dimension or {}
    in_review = package.state == PackageState.IN_REVIEW
    closing = review.closing_decision(package, signoffs)
    cards = []
    for signoff in signoffs:
        carried = signoff.state == SignOffState.CARRIED_OVER
        # A carried-over sign-off stands on decisions taken (and answered) on an earlier version.
        decided = signoff.carried_over_from or signoff
        decisions = list(decided.decisions.all())
        for decision in decisions:
            own = decided is signoff
            decision.thread = decision_thread(talk, decision, comment_form) if own else None
            decision.badge = review.VERDICT_BADGES[decision.verdict]
        standing = decision_standing(user, signoff) if in_review else None
        check = standing.check if standing is not None else None
        form = None
        if check and signoff.state == SignOffState.PENDING:
            form = forms_by_dimension.get(signoff.dimension) or web_forms.DecisionForm(
                signoff=signoff, prefix=signoff.dimension
            )
        css, badge, why = review.signoff_status(package, signoff, closing)
        items = signoff.checklist.items.all()
        cards.append(
            {
                "signoff": signoff,
                "open": signoff.state == SignOffState.PENDING and in_review,
                "css": css,
                "badge": badge,
                "why": why,
                "decisions": decisions,
                "approvals": sum(1 for d in decisions if d.stands and d.verdict == Verdict.APPROVE),
                "carried": carried,
                "required": [item.code for item in items if signoff.item_required(item)],
                "optional": [item.code for item in items if not signoff.item_required(item)],
                "form": form,
                "standing": standing,
                "overdue_since": review.overdue(signoff) if in_review else None,
                # Why a member of the dimension's group may not decide it (not shown to others).
                "refusal": check.message
                if check is not None and not check and check.code != "not_reviewer"
                else "",
            }
        )
    # A draft shows the depth it would get; a submitted version the one it was given.
    depth = package.review_plan.get("depth") or (
        review_depth(tier=package.risk_tier, manifest=package.manifest).as_dict()
        if package.state == PackageState.DRAFT
        else {
            "tier": package.risk_tier,
            "rule": FULL,
            "explanation": "This version records no review depth: every item its checklist "
            "marks required is needed.",
        }
    )
    diff = package.diff or {}
    diff_base = (
        package.base if package.state != PackageState.DRAFT else last_approved(package.agent)
    )
    changes = review.package_changes(package, diff_base)
    scope_rows_annotate(talk, changes.scope_rows)
    return {
        "package": package,
        "agent": package.agent,
        "manifest": package.manifest,
        "changes": changes,
        "talk": talk,
        "reasons": risk_tier_reasons(package.manifest, package.enforcement),
        "diff": diff,
        "diff_base": diff_base,
        "cards": cards,
        "carried_cards": [card for card in cards if card["carried"]],
        "plan": package.review_plan
        or (review_plan_preview(package).as_dict() if package.state == PackageState.DRAFT else {}),
        "depth": depth,
        "light_path": depth["rule"] == LIGHT,
        "my_forms": [card for card in cards if card["form"]],
        "closed_by": closing,
        # The page's wording follows the state; the template tests these, not state strings.
        "is_draft": package.state == PackageState.DRAFT,
        # In force, as the gate has it: an approval past its expiry reads as expired before
        # the expiry job marks it.
        "is_approved": package.state_shown == PackageState.APPROVED,
        "is_refused": package.state in (PackageState.REJECTED, PackageState.REVOKED),
        "awaits_new_version": package.state == PackageState.CHANGES_REQUESTED,
        "needs_full_review": bool(selectors.changes_needing_review(diff))
        and package.base_id is not None,
        "may_edit": bool(can_edit(user, package.agent)),
        "exports": evidence_links(package)
        if can_read_audit(user) and package.state != PackageState.DRAFT
        else [],
        **emergency_context(user, package),
        **usage_context(user, package.agent, package, package_in_force(package.agent)),
    }


@require_safe
@login_required
def package_detail(request, slug, version):
    package = package_or_404(request, slug, version)
    kept = step_up_kept(request)
    forms = None
    if kept is not None:
        # The decision forms' prefixes keep each dimension's input to its own form.
        forms = {
            signoff.dimension: form_kept(
                web_forms.DecisionForm, kept, signoff=signoff, prefix=signoff.dimension
            )
            for signoff in package.signoffs.select_related("checklist")
        }
    return render(request, "packages/review.html", review_context(request, package, forms))


@login_required
def package_decide(request, slug, version, dimension):
    """Record the signed-in reviewer's decision on one dimension; the service re-checks all."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if dimension not in Dimension.values:
        raise Http404("No such dimension.")
    package = package_or_404(request, slug, version)
    again = step_up_needed(request, f"{package.get_absolute_url()}#decide-{dimension}")
    if again is not None:
        return again
    signoff = package.signoffs.select_related("checklist").filter(dimension=dimension).first()
    if signoff is None:
        return refused(request, InvalidInput("This package has no sign-offs yet."), status=409)
    check = can_decide(request.user, signoff)
    if not check:
        # Refused before the form is read: its errors would come back on a page that shows
        # this user no decision form.
        return refused(request, NotPermitted(check.message, code=check.code))
    form = web_forms.DecisionForm(request.POST, signoff=signoff, prefix=dimension)
    decidable = package.state == PackageState.IN_REVIEW and signoff.state == SignOffState.PENDING
    if form.is_valid() and form.needs_confirmation() and decidable:
        # An approval is final: the page asks again, naming what is approved, before it is kept.
        context = review_context(request, package, {dimension: form})
        context["confirm"] = form.confirmation()
        return render(request, "packages/review.html", context)
    if form.is_valid():
        try:
            signoff_decide(
                actor=actor_of(request),
                package=package,
                dimension=dimension,
                verdict=form.cleaned_data["verdict"],
                comment=form.cleaned_data["comment"],
                answers=form.answers(),
            )
        except InvalidInput as error:
            web_forms.errors_show(error, form)
        except ApplicationError as error:
            return refused(request, error)
        else:
            messages.success(
                request, f"Your {signoff.get_dimension_display()} decision is recorded."
            )
            return redirect(package)
    package.refresh_from_db()
    context = review_context(request, package, {dimension: form})
    return render(request, "packages/review.html", context, status=400)
