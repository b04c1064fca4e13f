"""Retirement: an agent leaves service for good, its history and evidence kept.

Its approval is revoked, a review in progress is withdrawn, every gate check
denies (`agent_retired`), its runtime's kill-switch webhook is called, and it
takes no new packages. Its packages, decisions and audit trail stay readable
and exportable.
"""

from django.db import transaction
from django.utils import timezone

from agents.membership import actor_user_lock
from agents.models import Agent, AgentStatus
from agents.permissions import can_retire
from approvals.models import PackageState
from approvals.selectors import kill_switch_webhook
from approvals.services import _close, agent_refresh_status
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidTransition, NotPermitted
from config.reasons import reason_checked
from outbox.services import notify


@transaction.atomic
def agent_retire(*, actor: Actor, agent: Agent, reason: str) -> Agent:
    """Retire the agent: revoke its approval, withdraw its review, call its kill switch."""
    agent = Agent.objects.select_for_update(no_key=True).get(pk=agent.pk)
    if not actor.is_system:
        check = can_retire(actor_user_lock(actor=actor), agent)
        if not check:
            raise NotPermitted(check.message, code=check.code)
        actor.require_fresh_authentication()
    reason = reason_checked(reason)
    if agent.retired_at is not None:
        raise InvalidTransition("The agent is already retired.", code="already_retired")
    before = agent.status
    agent.retired_at = timezone.now()
    agent.retired_reason = reason
    agent.save(update_fields=["retired_at", "retired_reason", "updated_at"])
    closed = []
    live = agent.packages.select_for_update(no_key=True).filter(
        state__in=(PackageState.APPROVED, PackageState.IN_REVIEW)
    )
    for package in live.order_by("version"):
        package.agent = agent
        closed.append({"version": package.version, "state": package.state})
        _close(actor, package, PackageState.REVOKED, f"Agent retired: {reason}")
    webhook = kill_switch_webhook(agent)
    audit_record(
        actor=actor,
        action="agent.retired",
        target=agent,
        agent_slug=agent.slug,
        before={"status": before},
        after={"status": AgentStatus.RETIRED, "reason": reason},
        data={"revoked": closed, "kill_switch_webhook": bool(webhook)},
    )
    notify("agent.retired", agent=agent, kill_switch_webhook=webhook, data={"reason": reason})
    agent_refresh_status(agent=agent)
    return agent
