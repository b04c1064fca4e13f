"""The audit trail in words: one sentence per action and the recorded data as labelled facts.

`SENTENCES` is the one mapping of an action to what a person reads on the audit
page and the agent's timeline. A sentence is a `str.format` template over the
event's words (`actor`, `agent`, `package`) and its recorded values, each turned
into the product's vocabulary first (a verdict's verb, a dimension's name). An
action missing here, or a template naming a value the event does not carry,
falls back to a plain sentence naming the action: no event goes unshown.
"""

import json
from dataclasses import dataclass

from agents.grants import REVIEWER_UNASSIGNED
from agents.models import AgentStatus
from agents.permissions import ASSIGNABLE_PERMISSIONS
from agents.vocabulary import Access, Deployment, RiskTier, ScopeKind, TrustBoundary
from approvals.gate import GATE_CHECKED
from approvals.gate_vocabulary import GateDecision
from approvals.models import EmergencyState, FindingStatus, PackageState, Severity
from audit.actors import SYSTEM_LABEL, ActorType
from audit.verification import CHAIN_VERIFIED
from signoffs.models import Dimension, Footing, SignOffState, Verdict
from signoffs.services import SIGNOFF_DECIDED

SENTENCES: dict[str, str] = {
    "agent.created": "{actor} registered the agent {agent}",
    "agent.updated": "{actor} changed the agent {agent}",
    "agent.suspended": "{actor} pulled the kill switch of {agent}: it is suspended",
    "agent.retired": "{actor} retired {agent}: it never ships again",
    "emergency.requested": "{actor} asked for an emergency approval of {package}",
    "emergency.approved": (
        "{actor} gave the {dimension} approval of the emergency release of {package}"
    ),
    "emergency.granted": "The emergency approval of {package} is granted until {ends_at}",
    "emergency.concluded": (
        "The full review approved {package}: its emergency approval is concluded"
    ),
    "emergency.expired": (
        "The emergency approval of {package} expired before its full review approved it"
    ),
    "emergency.ended": "The emergency approval of {package} ended: {reason}",
    "agent.kill_switch_called": "The kill-switch webhook of {agent} was called: {status}",
    "package.created": "{actor} started {package}",
    "package.updated": "{actor} edited the draft {package}",
    "package.submitted": "{actor} submitted {package} for review",
    "package.narrowed": (
        "{actor} narrowed {package} to the entries of v{from_version} used in the last "
        "{window_days} days"
    ),
    "package.signoffs_carried_over": (
        "{package} carries over the sign-offs of v{from_version} that its changes do not concern"
    ),
    "package.signoffs_reopened": "{package} re-opens sign-offs: {reason}",
    "package.approved": "{package} is approved: every sign-off is complete{lifted}",
    "package.changes_requested": "{actor} requested changes on {package}",
    "package.rejected": "{actor} rejected {package}",
    "package.superseded": "{package} was superseded by a newer approved version",
    "package.expired": "The approval of {package} expired",
    "package.revoked": "{package} was revoked: {reason}",
    "signoff.decided": "{actor} {verdict} the {dimension} sign-off of {package}{footing}",
    "signoff.reassigned": "{actor} reassigned the {dimension} sign-off of {package} to {user}",
    "signoff.reminded": "The reviewers of the {dimension} sign-off of {package} were reminded",
    "absence.set": (
        "{actor} set an absence of {reviewer} ({dimension}): {delegate} decides in their place"
    ),
    "absence.cleared": "{actor} ended the absence of {reviewer} ({dimension})",
    "signoff.escalated": (
        "The {dimension} sign-off of {package} waited {pending_days} days "
        "(review target {sla_days} days) and was escalated"
    ),
    "gate.checked": "{actor} asked the release gate about {package}: {decision}",
    "observations.recorded": "{actor} reported {count} uses of {agent} by its runtime",
    "usage.days_pruned": (
        "{actor} deleted {deleted} daily runtime usage counts dated before {older_than} "
        "({days_kept} days are kept)"
    ),
    "sign_ins.pruned": (
        "{actor} deleted {sign_in_logs} sign-in records from before {older_than} "
        "({days_kept} days are kept) and {sessions} expired sessions"
    ),
    "notifications.pruned": (
        "{actor} deleted {notifications} sent notifications from before {older_than} "
        "({days_kept} days are kept) and their {webhook_deliveries} webhook deliveries"
    ),
    "drift.evaluated": "Drift evaluation opened {opened} and resolved {resolved} findings",
    "drift.acknowledged": "{actor} acknowledged a {severity} drift finding of {agent}",
    "drift.resolved": "{actor} resolved a {severity} drift finding of {agent}",
    "recertification.opened": "{package} opened to re-certify v{recertifies_version}",
    "recertification.blocked": "The re-certification of {package} could not open",
    "recertification.reminded": "The owners of {package} were reminded to re-certify it",
    "comment.created": "{actor} commented on {package}",
    "checklist.loaded": "{actor} loaded version {version} of the {dimension} checklist",
    "schedule.synced": "{actor} copied the job schedule of the code into the periodic tasks",
    "team.created": "{actor} created the team {slug}",
    "team.members_changed": "{actor} changed the members of a team",
    "user.groups_changed": "{actor} changed the groups of {user}",
    "user.teams_changed": "{actor} changed the teams of {user}",
    "user.staff_changed": "{actor} changed whether {user} is staff",
    "user.superuser_changed": "{actor} changed whether {user} is a superuser",
    "user.active_changed": "{actor} changed whether the account of {user} is active",
    "user.permissions_changed": "{actor} changed the permissions of {user}",
    "user.created": "{actor} created the account of {username}",
    "user.email_changed": "{actor} changed the email address of {user}",
    "user.renamed": "{actor} changed the name of {user}",
    "user.password_set": "{actor} changed the password of {user}",
    "group.permissions_changed": "{actor} changed the permissions of the group {group}",
    "agent.reviewer_assigned": "{actor} assigned {user} to {agent} ({permission})",
    "agent.reviewer_unassigned": "{actor} took {permission} on {agent} away from {user}{why}",
    "token.created": "{actor} created the API token {name}",
    "token.revoked": "{actor} revoked the API token {name}",
    "token.expiry_warned": "{actor} warned {user} that the API token {name} expires {expires_at}",
    "service_account.created": "{actor} created the service account {username}",
    "audit.verification_requested": "{actor} asked for the audit chain to be verified",
    "audit.chain_verified": "The audit chain was verified: {outcome}",
}

# The values of recorded fields in words, by the field's name.
VALUE_WORDS: dict[str, dict[str, str]] = {
    "state": {
        **dict(EmergencyState.choices),
        **dict(SignOffState.choices),
        **dict(PackageState.choices),
    },
    "verdict": dict(Verdict.choices),
    "dimension": dict(Dimension.choices),
    "severity": dict(Severity.choices),
    "status": {**dict(AgentStatus.choices), **dict(FindingStatus.choices)},
    "risk_tier": dict(RiskTier.choices),
    "deployment": dict(Deployment.choices),
    "access": dict(Access.choices),
    "kind": dict(ScopeKind.choices),
    "trust_boundary": dict(TrustBoundary.choices),
    "decision": dict(GateDecision.choices),
    "permission": ASSIGNABLE_PERMISSIONS,
}
# What a verdict did, as the verb of a sentence.
VERDICT_VERBS = {
    Verdict.APPROVE: "approved",
    Verdict.REQUEST_CHANGES: "requested changes on",
    Verdict.REJECT: "rejected",
}
# Field names whose label is not their name with its first letter raised.
LABELS = {
    "sla_days": "Review target (days)",
    "risk_tier": "Risk tier",
    "digest": "Scope digest (SHA-256)",
    "requested_digest": "Digest asked about",
    "requested_agent": "Agent asked about",
    "base_version": "Compared with version",
    "from_version": "Sign-offs from version",
    "recertifies_version": "Re-certifies version",
    "is_recertification": "Re-certification",
    "spiffe_id": "Workload identity (SPIFFE ID)",
    "log_principal": "Log attribution principal",
}
# Past this many characters a recorded value is cut on the page (the exports keep it whole).
LONGEST_VALUE = 300


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


def label(name: str) -> str:
    """Return a recorded field's name as a label: `checklist_version` -> `Checklist version`."""
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def value_words(name: str, value) -> str:
    """Return a recorded value as a person reads it, in the product's vocabulary."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return VALUE_WORDS.get(name, {}).get(value, value)
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return ", ".join(value_words(name, item) for item in value) or "none"
        return f"{len(value)} entries"
    if isinstance(value, dict):
        if all(not isinstance(item, dict | list) for item in value.values()):
            # Such a record is keyed by dimension where it says something of each sign-off.
            return "; ".join(
                f"{VALUE_WORDS['dimension'].get(key, key)}: {value_words(key, item)}"
                for key, item in value.items()
            )
        counts = (f"{label(key)}: {value_words(key, item)}" for key, item in value.items())
        return "; ".join(counts) or "none"
    return str(value)


def _short(text: str) -> str:
    return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 1] + "…"


def event_facts(event) -> list[Fact]:
    """Return what the event recorded as labelled facts: a changed field as `old -> new`."""
    before, after = event.before or {}, event.after or {}
    facts = []
    for name in [*before, *(key for key in after if key not in before)]:
        old, new = before.get(name), after.get(name)
        if name in before and name in after:
            text = f"{value_words(name, old)} → {value_words(name, new)}"
        elif name in after:
            text = value_words(name, new)
        else:
            text = f"{value_words(name, old)} → removed"
        facts.append(Fact(label(name), _short(text)))
    facts.extend(
        Fact(label(name), _short(value_words(name, value)))
        for name, value in (event.data or {}).items()
    )
    return facts


def _actor(event) -> str:
    if event.actor_type == ActorType.SYSTEM:
        job = event.actor_label.removeprefix("celery:")
        return f"Countersign ({job.replace('_', ' ')})" if job != SYSTEM_LABEL else "Countersign"
    return event.actor_label or dict(ActorType.choices).get(event.actor_type, event.actor_type)


def _words(event) -> dict[str, str]:
    """Return the values a sentence may name, every one in words."""
    recorded = {**(event.before or {}), **(event.after or {}), **(event.data or {})}
    words = {name: value_words(name, value) for name, value in recorded.items()}
    agent = event.agent_slug or "an agent"
    words.update(
        actor=_actor(event),
        agent=agent,
        package=f"{agent} v{event.package_version}" if event.package_version else agent,
    )
    if "verdict" in recorded:
        words["verdict"] = VERDICT_VERBS.get(recorded["verdict"], words["verdict"])
    if event.action == SIGNOFF_DECIDED:
        words["footing"] = (
            f" on behalf of {recorded['on_behalf_of']}"
            if recorded.get("on_behalf_of")
            else " as fallback reviewer"
            if recorded.get("basis") == Footing.FALLBACK
            else ""
        )
    if event.action == "package.approved":
        # The approval that lifts a kill switch is the only event that records its end.
        words["lifted"] = (
            f"; the suspension of {agent} is lifted" if recorded.get("suspension_lifted") else ""
        )
    if event.action == REVIEWER_UNASSIGNED:
        # A grant a change withdrew says why (agents.grants); one revoked by hand, nothing.
        words["why"] = f": {recorded['reason']}" if recorded.get("reason") else ""
    if event.action == GATE_CHECKED:
        reasons = ", ".join(recorded.get("reasons") or [])
        allowed = recorded.get("decision") == GateDecision.ALLOW
        words["decision"] = "allowed" if allowed else f"denied ({reasons or 'no reason given'})"
        if not event.agent_slug and recorded.get("requested_agent"):
            # A name the gate did not read as an agent's: the client's, quoted as asked.
            words["package"] = f"the name {recorded['requested_agent']!r}"
    if event.action == CHAIN_VERIFIED:
        # A run that could not finish (no worker took it, the walk raised) names no break.
        words["outcome"] = (
            f"intact, {recorded.get('events', 0)} events"
            if recorded.get("ok")
            else f"broken at event {recorded['broken_seq']} ({recorded.get('reason')})"
            if recorded.get("broken_seq") is not None
            else f"not finished ({recorded.get('reason')})"
        )
    return words


def event_sentence(event) -> str:
    """Return the event as one sentence, e.g. "iam1 approved the IAM sign-off of x v3"."""
    template = SENTENCES.get(event.action)
    words = _words(event)
    if template is not None:
        try:
            return template.format(**words)
        except (KeyError, IndexError, ValueError):
            pass
    subject = f" on {words['package']}" if event.agent_slug else ""
    return f"{words['actor']} recorded {event.action}{subject}"


# Past this many characters an event's JSON is cut on the page: a drift run's event lists
# every finding it opened, which can be megabytes (the exports keep it whole).
LONGEST_RECORD = 20_000


def event_json(event) -> str:
    """Return the event's recorded data as indented JSON, as the exports hold it; a record
    too long to read on a page is cut, compact, saying how long it is."""
    recorded = {
        k: v
        for k, v in {"before": event.before, "after": event.after, "data": event.data}.items()
        if v
    }
    # Compact JSON is written by the C encoder, indented JSON only in Python: a record is
    # measured compact before it is ever indented.
    compact = json.dumps(recorded, sort_keys=True)
    if len(compact) > LONGEST_RECORD:
        return (
            f"{compact[:LONGEST_RECORD]}… (cut: {len(compact):,} characters in all; "
            "the audit export holds the whole event)"
        )
    return json.dumps(recorded, indent=2, sort_keys=True)


def describe(events) -> list:
    """Give each event its `sentence`, `facts` and `recorded` JSON for the pages; return them."""
    for event in events:
        event.sentence = event_sentence(event)
        event.facts = event_facts(event)
        event.recorded = event_json(event)
    return list(events)
