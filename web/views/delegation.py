"""The reviewer's "My absence" page, and staff reassigning a pending sign-off."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from approvals.delegation import signoff_reassign
from approvals.models import PackageState
from config.errors import ApplicationError, InvalidInput
from config.usernames import user_named
from signoffs.absence import absence_clear, absence_set, absences_visible
from web import selectors
from web.forms import errors_show
from web.forms.absence import AbsenceForm, ReassignForm
from web.views.common import actor_of, agent_or_404, refused
from web.views.staff import refused_unless_staff, reviewers_page


@login_required
def my_absence(request):
    """Show the user's absences and those they cover; set one for a dimension of theirs."""
    user = request.user
    dimensions = selectors.user_dimensions(user)
    if not dimensions:
        return refused(
            request,
            InvalidInput("Only reviewers set an absence: you are in no reviewer group."),
            status=403,
        )
    now = timezone.now().replace(second=0, microsecond=0)
    form = AbsenceForm(
        request.POST or None,
        reviewer=user,
        dimensions=dimensions,
        initial={"starts_at": now, "ends_at": now + timedelta(days=7)},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            absence_set(
                actor=actor_of(request),
                reviewer=user,
                dimension=data["dimension"],
                delegate=data["delegate"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
            )
        except ApplicationError as error:
            errors_show(error, form)
        else:
            delegate = data["delegate"].get_username()
            messages.success(request, f"Absence set: {delegate} decides in your place.")
            return redirect("my-absence")
    visible = list(absences_visible(user))
    context = {
        "form": form,
        "mine": [a for a in visible if a.reviewer_id == user.pk],
        "covering": [a for a in visible if a.delegate_id == user.pk],
        "now": timezone.now(),
    }
    return render(request, "absence/form.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def absence_end(request, pk):
    """End one of the user's absences now."""
    absence = get_object_or_404(absences_visible(request.user), pk=pk)
    try:
        absence_clear(actor=actor_of(request), absence=absence)
    except ApplicationError as error:
        return refused(request, error)
    messages.success(request, "Absence ended: you decide your reviews again.")
    return redirect("my-absence")


@require_POST
@login_required
def signoff_reassign_view(request, slug):
    """Reassign a pending sign-off of the agent's package in review (staff)."""
    agent = agent_or_404(request, slug)
    denied = refused_unless_staff(request)
    if denied:
        return denied
    form = ReassignForm(request.POST, prefix="reassign")
    package = agent.packages.filter(state=PackageState.IN_REVIEW).order_by("-version").first()
    if form.is_valid():
        data = form.cleaned_data
        user = user_named(data["user"].strip())
        if package is None:
            form.add_error(None, "No package of this agent is in review.")
        elif user is None:
            form.add_error("user", f"No user {data['user']!r}.")
        else:
            try:
                signoff_reassign(
                    actor=actor_of(request),
                    package=package,
                    dimension=data["dimension"],
                    user=user,
                    reason=data["reason"],
                )
            except ApplicationError as error:
                errors_show(error, form)
            else:
                messages.success(
                    request,
                    f"The {data['dimension']} sign-off of v{package.version} is reassigned "
                    f"to {user.get_username()}.",
                )
                return redirect("agent-reviewers", slug=agent.slug)
    return reviewers_page(request, agent, reassign_form=form, status=400)
