"""The home page: my review queue and what needs attention."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from agents.models import AgentStatus
from agents.permissions import can_register
from approvals.models import PackageState
from outbox.schedule import JobStatus, schedule_states
from web import charts, owner_home, selectors
from web.delegation import left_behind_counts, queue_notes


def _age(delta) -> str:
    """Return a waiting time as a short label: '3 d 4 h', '5 h 10 min' or '7 min'."""
    minutes = int(delta.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _owner_home(user, may_register: bool):
    """Return the owner's part of the home page, for owners of agents and product owners."""
    home = owner_home.owner_home(user)
    if home.drafts or home.closed or home.in_review or (may_register and not user.is_staff):
        return home
    return None


@require_safe
@login_required
def dashboard(request):
    user = request.user
    queue = list(selectors.packages_awaiting(user)[:50])
    emergencies = list(selectors.emergencies_open(user)[:20])
    in_emergency = {emergency.package_id for emergency in emergencies}
    now = timezone.now()
    for signoff in queue:
        signoff.age = _age(now - (signoff.package.submitted_at or signoff.created_at))
        signoff.emergency = signoff.package_id in in_emergency
    queue_notes(user, queue, now)
    package_counts = selectors.package_state_counts(user)
    agent_counts = selectors.agent_status_counts(user)
    may_register = bool(can_register(user))
    home = _owner_home(user, may_register)
    owned = selectors.package_state_counts(user, owner=user) if home else {}
    context = {
        "queue": queue,
        "dimensions": selectors.user_dimensions(user),
        "package_counts": [
            (state, label, package_counts[state]) for state, label in PackageState.choices
        ],
        # What waits for review is a version, whatever its agent's status (an approved
        # agent's next version too): the count of the packages list it links to.
        "packages_in_review": package_counts[PackageState.IN_REVIEW],
        "agent_counts": agent_counts,
        "agents_total": sum(agent_counts.values()),
        "expiring": list(selectors.approvals_expiring(user)[:20]),
        "expiring_count": selectors.approvals_expiring(user).count(),
        "drift": list(selectors.drift_open(user)[:20]),
        "drift_count": selectors.drift_open(user).count(),
        "suspended": list(selectors.agents_suspended(user)[:20]),
        "emergencies": emergencies,
        "lead_days": settings.COUNTERSIGN["RECERTIFICATION_LEAD_DAYS"],
        "can_register": may_register,
        "charts": charts.dashboard_charts(user, now=now),
        "owner_home": home,
        "owner_package_counts": [
            (state, label, owned[state]) for state, label in PackageState.choices if home
        ],
        "agent_statuses": [
            (status, label, agent_counts[status]) for status, label in AgentStatus.choices
        ],
        # Staff name new reviewers and owners for what people who left still hold.
        "left_behind": left_behind_counts() if user.is_staff else {},
        # Staff keep beat running: a stopped job stops drift, expiry and checkpoints quietly.
        "jobs_stopped": (
            [job for job in schedule_states() if job.state != JobStatus.RUNNING]
            if user.is_staff
            else []
        ),
    }
    return render(request, "dashboard.html", context)
