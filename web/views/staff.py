"""Staff pages: users with their groups and teams, and the reviewers assigned to an agent.

Only staff reach them (403 otherwise); every change goes through agents.membership,
which audits it. A page's changes commit together or not at all.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from agents.membership import (
    Source,
    reviewer_assign,
    reviewer_unassign,
    user_groups_change,
    user_teams_change,
)
from agents.models import Team
from agents.permissions import (
    ASSIGNABLE_PERMISSIONS,
    SUSPEND_PERMISSION,
    can_administer_members,
)
from agents.selectors import assignments
from config.errors import ApplicationError, NotPermitted
from config.ordering import ranked
from config.roles import Group as Role
from web.delegation import LEFT_BEHIND_LISTED, left_behind, left_behind_counts, pending_signoffs
from web.forms import errors_show
from web.forms.absence import ReassignForm
from web.forms.staff import AssignmentForm, MembershipForm, UnassignForm, UserSearchForm
from web.views.common import actor_of, agent_or_404, refused


def refused_unless_staff(request):
    check = can_administer_members(request.user)
    if not check:
        return refused(request, NotPermitted(check.message, code=check.code))
    return None


@require_safe
@login_required
def user_list(request):
    """List the users with their groups and teams; `q` narrows by username.

    A search that is not one is shown refused beside its field, and every user listed.
    """
    denied = refused_unless_staff(request)
    if denied:
        return denied
    form = UserSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    users = (
        get_user_model()
        .objects.order_by("username")
        .prefetch_related(
            Prefetch("groups", queryset=Group.objects.order_by(ranked(Role, "name"), "name")),
            Prefetch("teams", queryset=Team.objects.order_by("slug")),
        )
    )
    if query:
        users = users.filter(username__icontains=query)
    page = Paginator(users, 50).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "q": query}
    return render(request, "staff/users.html", context, status=400 if form.errors else 200)


@login_required
def user_edit(request, pk):
    """Change a user's groups and teams: those ticked or cleared on the page, no others."""
    denied = refused_unless_staff(request)
    if denied:
        return denied
    member = get_object_or_404(get_user_model(), pk=pk)
    if request.method == "POST":
        form = MembershipForm(request.POST)
    else:
        form = MembershipForm(member=member)
    if request.method == "POST" and form.is_valid():
        actor = actor_of(request)
        # Only the boxes ticked or cleared on the page are applied, each against the
        # membership as it stands under the user's lock.
        groups_added, groups_removed = form.changes("groups")
        teams_added, teams_removed = form.changes("teams")
        try:
            with transaction.atomic():
                groups = user_groups_change(
                    member,
                    actor=actor,
                    source=Source.PAGE,
                    add=groups_added,
                    remove=groups_removed,
                )
                teams = user_teams_change(
                    member, actor=actor, source=Source.PAGE, add=teams_added, remove=teams_removed
                )
        except ApplicationError as error:
            errors_show(error, form)
        else:
            changed = groups or teams
            messages.success(
                request,
                f"{member.username}: membership changed."
                if changed
                else f"{member.username}: nothing changed.",
            )
            return redirect("staff-users")
    return render(
        request,
        "staff/user_edit.html",
        {"member": member, "form": form},
        status=400 if form.errors else 200,
    )


@require_safe
@login_required
def left_behind_list(request):
    """List the pending sign-offs, agents and absences that people who left still hold."""
    denied = refused_unless_staff(request)
    if denied:
        return denied
    context = {**left_behind(), "counts": left_behind_counts(), "listed": LEFT_BEHIND_LISTED}
    return render(request, "staff/left_behind.html", context)


def reviewers_page(request, agent, form=None, status=200, reassign_form=None):
    """Render the agent's reviewers page with its assignment and reassignment forms."""
    held = assignments(agent)
    # A kill-switch holder who cannot see the agent is shown, marked, for staff to revoke.
    rows = [
        {
            "permission": permission,
            "label": label,
            "users": held[permission],
            "needs_sight": permission == SUSPEND_PERMISSION,
        }
        for permission, label in ASSIGNABLE_PERMISSIONS.items()
    ]
    context = {
        "agent": agent,
        "rows": rows,
        "form": form or AssignmentForm(),
        "reassign_form": reassign_form or ReassignForm(prefix="reassign"),
        "pending": pending_signoffs(agent),
    }
    return render(request, "agents/reviewers.html", context, status=status)


@login_required
def agent_reviewers(request, slug):
    """Show and assign the agent's reviewers (review_<dimension>) and who may suspend it."""
    agent = agent_or_404(request, slug)
    denied = refused_unless_staff(request)
    if denied:
        return denied
    form = AssignmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, permission = form.cleaned_data["user"], form.cleaned_data["permission"]
        try:
            new = reviewer_assign(
                actor=actor_of(request),
                agent=agent,
                user=user,
                permission=permission,
                source=Source.PAGE,
            )
        except ApplicationError as error:
            errors_show(error, form)
        else:
            label = ASSIGNABLE_PERMISSIONS[permission]
            messages.success(
                request,
                f"{user.username} assigned: {label}."
                if new
                else f"{user.username} already holds this assignment.",
            )
            return redirect("agent-reviewers", slug=agent.slug)
    return reviewers_page(request, agent, form, status=400 if form.errors else 200)


@require_POST
@login_required
def agent_reviewer_unassign(request, slug):
    agent = agent_or_404(request, slug)
    denied = refused_unless_staff(request)
    if denied:
        return denied
    form = UnassignForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.refusal())
        return reviewers_page(request, agent, status=400)
    user, permission = form.cleaned_data["user"], form.cleaned_data["permission"]
    try:
        removed = reviewer_unassign(
            actor=actor_of(request),
            agent=agent,
            user=user,
            permission=permission,
            source=Source.PAGE,
        )
    except ApplicationError as error:
        messages.error(request, f"Nothing was unassigned: {error.message}")
        return reviewers_page(request, agent, status=error.status_code)
    label = ASSIGNABLE_PERMISSIONS[permission]
    messages.success(
        request,
        f"{user.username} unassigned: {label}."
        if removed
        else f"{user.username} did not hold this assignment.",
    )
    return redirect("agent-reviewers", slug=agent.slug)
