"""The release gate: may this exact scope ship? Denies whenever it cannot say yes."""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from threading import Lock

from cachetools import LRUCache, cached
from django.db import connection
from django.utils import timezone

from agents.models import Agent
from approvals import manifest as manifests
from approvals.gate_vocabulary import GateDecision, GateReason
from approvals.models import (
    GRANTED_EMERGENCY_STATES,
    LIVE_FINDING_STATUSES,
    ApprovalPackage,
    DriftFinding,
    EmergencyApproval,
    EmergencyState,
    PackageState,
    Severity,
)
from approvals.services import parse_manifest
from audit.actors import Actor
from audit.services import audit_record_alone
from config.errors import InvalidInput
from config.times import stored_time

logger = logging.getLogger(__name__)

ALLOW, DENY = GateDecision.ALLOW, GateDecision.DENY
# The event of every check, read by the audit page to word its decision.
GATE_CHECKED = "gate.checked"
# Reasons that go with an allow: the caller learns why it may ship.
ALLOW_REASONS = frozenset({GateReason.EMERGENCY_APPROVAL})


@dataclass
class GateResult:
    decision: str = DENY
    reasons: list[dict] = field(default_factory=list)
    package_version: int | None = None
    digest: str | None = None
    # A datetime: the API's JSON renderer writes it as every endpoint writes times.
    expires_at: datetime | None = None

    def deny(self, code: str, message: str, **details) -> None:
        self.reasons.append({"code": code, "message": message, **details})

    @property
    def denied(self) -> bool:
        return any(reason["code"] not in ALLOW_REASONS for reason in self.reasons)

    def as_dict(self) -> dict:
        return {
            "decision": self.decision,
            "reasons": self.reasons,
            "package_version": self.package_version,
            "digest": self.digest,
            "expires_at": self.expires_at,
        }


# The row a check decides from: the agent (retired, suspended), whether a critical
# finding is open, its last approved version (NULLs when there is none) and its
# latest granted emergency approval with that package (NULLs when there is none).
# Written as SQL, in this module only, because the ORM builds the same query
# afresh on every check at several times the cost of running it;
# tests/approvals/test_gate_decision.py holds it to the ORM's answer. The table
# names come from the models.
DECISION_SQL = f"""
SELECT a.retired_at, a.suspended_at,
       EXISTS (SELECT 1 FROM {DriftFinding._meta.db_table} d
               WHERE d.agent_id = a.id AND d.severity = %s AND d.status IN (%s, %s)),
       p.id, p.version, p.state, p.digest, p.expires_at, p.source_digest,
       e.state, e.ends_at, ep.id, ep.version, ep.digest, ep.source_digest
FROM {Agent._meta.db_table} a
LEFT JOIN {ApprovalPackage._meta.db_table} p ON p.id = (
    SELECT q.id FROM {ApprovalPackage._meta.db_table} q
    WHERE q.agent_id = a.id AND q.approved_at IS NOT NULL
    ORDER BY q.version DESC LIMIT 1)
LEFT JOIN {EmergencyApproval._meta.db_table} e ON e.id = (
    SELECT f.id FROM {EmergencyApproval._meta.db_table} f
    WHERE f.agent_id = a.id AND f.granted_at IS NOT NULL AND f.state IN (%s, %s, %s)
    ORDER BY f.granted_at DESC LIMIT 1)
LEFT JOIN {ApprovalPackage._meta.db_table} ep ON ep.id = e.package_id
WHERE a.slug = %s"""  # noqa: S608 - no value is formatted in, only the models' table names


def decision_row(agent_slug: str) -> dict | None:
    """Return the row a gate check decides from, or None when no agent has the slug.

    Its keys: retired_at, suspended_at, critical_drift, the last approved
    version's package_pk, version, state, digest, expires_at and source_digest
    (None when no version was ever approved), and the latest granted emergency
    approval's emergency_state, emergency_ends_at and its package's
    emergency_package_pk, emergency_version, emergency_digest and
    emergency_source_digest (None when there is none).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            DECISION_SQL,
            [Severity.CRITICAL, *LIVE_FINDING_STATUSES, *GRANTED_EMERGENCY_STATES, agent_slug],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    retired_at, suspended_at, drift, pk, version, state, digest, expires_at, source_digest = row[:9]
    e_state, e_ends_at, e_pk, e_version, e_digest, e_source_digest = row[9:]
    return {
        "retired_at": retired_at,
        "suspended_at": suspended_at,
        "critical_drift": bool(drift),
        "package_pk": pk,
        "version": version,
        "state": state,
        "digest": digest,
        "expires_at": stored_time(expires_at),
        "source_digest": source_digest,
        "emergency_state": e_state,
        "emergency_ends_at": stored_time(e_ends_at),
        "emergency_package_pk": e_pk,
        "emergency_version": e_version,
        "emergency_digest": e_digest,
        "emergency_source_digest": e_source_digest,
    }


def _evaluate(row: dict | None, agent_slug: str, manifest, digest: str | None) -> GateResult:
    """Decide from the decision row: the agent, its last approved version, an emergency."""
    result = GateResult()
    if row is None:
        result.deny(GateReason.UNKNOWN_AGENT, f"No agent {agent_slug!r} is registered.")
        return result
    _deny_agent(result, row)
    answer = _approved_answer(row, manifest, digest)
    if answer.reasons and _emergency_covers(row, manifest, digest):
        answer = _emergency_answer(row, digest)
    result.reasons.extend(answer.reasons)
    result.package_version = answer.package_version
    result.digest = answer.digest
    result.expires_at = answer.expires_at
    return _finish(result)


def _approved_answer(row: dict, manifest, digest: str | None) -> GateResult:
    """Answer from the last approved version alone: whether it stands and covers the scope."""
    result = GateResult()
    if row["package_pk"] is None:
        result.deny(GateReason.NO_APPROVED_PACKAGE, "No version of this agent was ever approved.")
        return result
    state, expires_at = row["state"], row["expires_at"]
    if state == PackageState.EXPIRED or (
        state == PackageState.APPROVED and expires_at <= timezone.now()
    ):
        result.deny(
            GateReason.APPROVAL_EXPIRED,
            f"The approval of v{row['version']} expired on {expires_at:%Y-%m-%d %H:%M} UTC.",
        )
    elif state != PackageState.APPROVED:
        result.deny(
            GateReason.NO_APPROVED_PACKAGE,
            f"The last approved version v{row['version']} is {state}.",
        )
    result.package_version = row["version"]
    # The digest answered is the one checked, never the approved one: a deny must not hand
    # the caller the digest that would pass.
    result.digest = digest
    result.expires_at = expires_at
    _compare_scope(result, row, manifest, digest)
    return result


def _emergency_covers(row: dict, manifest, digest: str | None) -> bool:
    """Tell whether a granted emergency approval, newer than the last approval, covers the scope."""
    if not emergency_newer(row):
        return False
    package = {
        "package_pk": row["emergency_package_pk"],
        "version": row["emergency_version"],
        "digest": row["emergency_digest"],
    }
    probe = GateResult()
    _compare_scope(probe, package, manifest, digest)
    return not probe.reasons


def emergency_newer(row: dict) -> bool:
    """Tell whether the row has a granted emergency of a version newer than the last approval.

    The gate then answers for that version too: inside its time box it allows
    it, after it denies it with `emergency_expired`.
    """
    return row["emergency_package_pk"] is not None and (
        row["version"] is None or row["emergency_version"] > row["version"]
    )


def _emergency_answer(row: dict, digest: str | None) -> GateResult:
    """Allow inside the emergency's time box, deny after it (or once it was ended)."""
    result = GateResult()
    version, ends_at = row["emergency_version"], row["emergency_ends_at"]
    if row["emergency_state"] == EmergencyState.ACTIVE and ends_at > timezone.now():
        result.reasons.append(
            {
                "code": GateReason.EMERGENCY_APPROVAL,
                "message": f"v{version} ships on an emergency approval until "
                f"{ends_at:%Y-%m-%d %H:%M} UTC while its full review runs; unless that review "
                "approves it by then, the gate denies it.",
            }
        )
    elif row["emergency_state"] == EmergencyState.ENDED:
        result.deny(
            GateReason.EMERGENCY_EXPIRED,
            f"The emergency approval of v{version} was ended before its full review approved it.",
        )
    else:
        result.deny(
            GateReason.EMERGENCY_EXPIRED,
            f"The emergency approval of v{version} ended on {ends_at:%Y-%m-%d %H:%M} UTC "
            "before its full review approved it.",
        )
    result.package_version = version
    result.digest = digest
    result.expires_at = ends_at
    return result


def standing(row: dict | None, agent_slug: str, *, emergency: bool = False) -> GateResult:
    """Decide everything but the scope from the decision row: a check of the approved digest,
    or with `emergency`, of the digest of the version under the emergency approval.

    A runtime decision starts from it: the same suspension, drift, approval,
    emergency and expiry reasons as a gate check, with the same codes.
    """
    digest = None if row is None else row["emergency_digest" if emergency else "digest"]
    return _evaluate(row, agent_slug, None, digest)


def version_codes(row: dict | None, agent_slug: str) -> tuple[tuple[str, ...], ...]:
    """Return the gate's deny codes on each version the agent may ship (empty: allowed):
    the last approved one, then a newer one under an emergency approval if there is one."""
    versions = (False, True) if row is not None and emergency_newer(row) else (False,)
    answers = []
    for emergency in versions:
        result = standing(row, agent_slug, emergency=emergency)
        answers.append(() if result.decision == ALLOW else tuple(r["code"] for r in result.reasons))
    return tuple(answers)


def approved_manifest(row: dict, *, emergency: bool = False) -> dict:
    """Return the normalized manifest of the decision row's last approved version, or with
    `emergency`, of the version under the emergency approval."""
    prefix = "emergency_" if emergency else ""
    return _approved_manifest(row[f"{prefix}digest"], row[f"{prefix}package_pk"])


def _deny_agent(result: GateResult, row: dict) -> None:
    if row["retired_at"] is not None:
        result.deny(GateReason.AGENT_RETIRED, "The agent is retired; it never ships again.")
    if row["suspended_at"] is not None:
        result.deny(
            GateReason.AGENT_SUSPENDED, "The agent's kill switch was pulled; it may not ship."
        )
    if row["critical_drift"]:
        result.deny(GateReason.OPEN_CRITICAL_DRIFT, "A critical scope-drift finding is open.")


def _finish(result: GateResult) -> GateResult:
    if result.denied:
        # An allow's reason never goes with a deny: it would read as a permission.
        result.reasons = [r for r in result.reasons if r["code"] not in ALLOW_REASONS]
    else:
        result.decision = ALLOW
    return result


def _compare_scope(result: GateResult, package: dict, manifest, digest: str | None) -> None:
    """Deny a scope beyond the approved one, or other commitments than the approved ones.

    `digest` is the manifest's when one is given. A narrowed scope and reworded
    narrative (description, justification) pass.
    """
    if manifest is not None:
        if digest == package["digest"]:
            return
        expansions, commitments = _departures(
            package["digest"], digest, package["package_pk"], manifest
        )
        if expansions:
            result.deny(
                GateReason.SCOPE_MISMATCH,
                f"The manifest expands the scope approved in v{package['version']}.",
                expansions=[dict(change) for change in expansions],
            )
        if commitments:
            result.deny(
                GateReason.COMMITMENT_CHANGED,
                f"The manifest changes commitments approved in v{package['version']}: "
                f"{', '.join(commitments)}.",
                changed_fields=list(commitments),
            )
    elif digest != package["digest"]:
        result.deny(
            GateReason.SCOPE_MISMATCH,
            f"The digest is not the one approved in v{package['version']}.",
            expansions=[],
        )


# Memos of what a check works out from content alone, so that none can answer
# from stale state: a manifest as sent is known by its source digest (which
# covers the schema, this code's rules and the YAML library), a normalized
# manifest (an approved version's too) by its digest. A pipeline checks the
# same file on every run until a new version is approved; the decision row
# (suspension, expiry, drift, which version is approved) is read on every
# check. Per process, bounded: the readings by 1 MiB of canonical JSON (a
# parsed manifest takes ~6 times that in memory; a larger memo made every
# check of a never-seen text pay for the garbage collector walking it).


@cached(
    LRUCache(maxsize=256), key=lambda approved, requested, *_: (approved, requested), lock=Lock()
)
def _departures(approved: str, requested: str, package_pk: int, manifest: dict) -> tuple:
    """Return what `manifest` (digest `requested`) departs from the approved version by.

    A pair: the scope expansions (as dicts) and the paths of the changed commitments.
    """
    diff = manifests.diff_normalized(_approved_manifest(approved, package_pk), manifest)
    return tuple(change.as_dict() for change in diff.expansions), diff.commitment_fields


@cached(LRUCache(maxsize=64), key=lambda digest, *_: digest, lock=Lock())
def _approved_manifest(digest: str, package_pk: int) -> dict:
    """Return the normalized manifest of the approved version (of this digest)."""
    stored = ApprovalPackage.objects.values_list("manifest", flat=True).get(pk=package_pk)
    return manifests.normalize_manifest(stored)


@dataclass(frozen=True)
class _Read:
    manifest: dict
    digest: str
    size: int  # of its canonical JSON, what the memo counts


@cached(
    LRUCache(maxsize=1024 * 1024, getsizeof=lambda read: read.size),
    key=lambda sent, *_: sent,
    lock=Lock(),
)
def _manifest_read(sent: str, source, content_type: str) -> _Read:
    """Read a manifest as sent (source digest `sent`); raise InvalidInput naming its faults."""
    manifest = parse_manifest(source, content_type)
    canonical = manifests.canonical_json(manifest)
    return _Read(manifest, manifests.text_digest(canonical), len(canonical))


def gate_memos_clear() -> None:
    """Forget every memo (each test starts with none)."""
    _departures.cache_clear()
    _approved_manifest.cache_clear()
    _manifest_read.cache_clear()


def gate_check(
    *, actor: Actor, agent_slug: str, manifest: dict | None = None, digest: str | None = None
) -> GateResult:
    """Answer whether the agent may ship this manifest (or digest); audit every answer.

    `manifest` must already be validated and normalized (`digest` is then its
    digest, or None to have it taken). Any failure while deciding, or while
    recording the decision, answers deny.
    """
    try:
        if manifest is not None and digest is None:
            digest = manifests.text_digest(manifests.canonical_json(manifest))
        row = decision_row(agent_slug)
    except Exception:
        logger.exception("gate check failed for %s", agent_slug)
        return _audited(actor, agent_slug, False, _internal_error(), digest)
    return _decided(actor, agent_slug, row, manifest, digest)


def gate_check_manifest(*, actor: Actor, agent_slug: str, source, content_type: str) -> GateResult:
    """Check a manifest as sent: a mapping, or JSON or YAML text.

    The exact text (or JSON object) the last approved version was created from
    is known by its source digest and checked as that version's digest, without
    being read again (the file a pipeline submitted is usually the file it later
    checks).
    Any other manifest is read in full; one that cannot be read, or that names
    another agent, is denied with the fields at fault.
    """
    try:
        row = decision_row(agent_slug)
    except Exception:
        logger.exception("gate check could not read the decision for %s", agent_slug)
        return _audited(actor, agent_slug, False, _internal_error(), None)
    sent = manifests.source_digest(source, content_type)
    if sent and row is not None and row["source_digest"] == sent:
        return _decided(actor, agent_slug, row, None, row["digest"])
    if sent and row is not None and row["emergency_source_digest"] == sent and emergency_newer(row):
        return _decided(actor, agent_slug, row, None, row["emergency_digest"])
    try:
        read = (_manifest_read if sent else _manifest_read.__wrapped__)(sent, source, content_type)
    except InvalidInput as error:
        return gate_refuse(
            actor=actor,
            agent_slug=agent_slug,
            code=GateReason.INVALID_MANIFEST,
            message=error.message,
            fields=error.fields,
            agent_found=row is not None,
        )
    manifest = read.manifest
    if manifest["agent"] != agent_slug:
        return gate_refuse(
            actor=actor,
            agent_slug=agent_slug,
            code=GateReason.INVALID_MANIFEST,
            message="The manifest names another agent.",
            fields={"manifest.agent": [f"Expected {agent_slug!r}, got {manifest['agent']!r}."]},
            agent_found=row is not None,
        )
    return _decided(actor, agent_slug, row, manifest, read.digest)


def _decided(actor: Actor, agent_slug: str, row, manifest, digest: str | None) -> GateResult:
    """Decide from the decision row (and `manifest` of `digest`), denying on any failure; audit."""
    try:
        result = _evaluate(row, agent_slug, manifest, digest)
    except Exception:
        logger.exception("gate check failed for %s", agent_slug)
        result = _internal_error()
    return _audited(actor, agent_slug, row is not None, result, digest)


def _internal_error() -> GateResult:
    result = GateResult()
    result.deny(GateReason.INTERNAL_ERROR, "The gate could not decide, so it denies.")
    return result


def _recorded(
    actor: Actor, agent_slug: str, found: bool, result: GateResult, requested: str | None
) -> bool:
    """Append the check's event; False when it could not be.

    Only an agent the gate read (`found`) is the event's agent. Any other name is the
    client's own string, kept as `requested_agent`: no agent's timeline holds it.
    """
    asked = {} if found or not agent_slug else {"requested_agent": agent_slug[:64]}
    try:
        audit_record_alone(
            actor=actor,
            action=GATE_CHECKED,
            agent_slug=agent_slug if found else "",
            package_version=result.package_version,
            data={
                "decision": result.decision,
                "reasons": [r["code"] for r in result.reasons],
                "requested_digest": requested,
                **asked,
            },
        )
    except Exception:
        logger.exception("gate check could not be audited for %s", agent_slug)
        return False
    return True


def _audited(actor: Actor, agent_slug: str, found: bool, result: GateResult, requested):
    """Record the decision and return it, or a deny when it could not be recorded."""
    if _recorded(actor, agent_slug, found, result, requested):
        return result
    failed = GateResult()
    failed.deny(GateReason.AUDIT_UNAVAILABLE, "The decision could not be recorded.")
    return failed


def gate_refuse(
    *,
    actor: Actor,
    agent_slug: str,
    code: str,
    message: str,
    fields: dict | None = None,
    agent_found: bool = False,
) -> GateResult:
    """Deny a check that could not be decided, and audit it as any other (under the agent only
    when `agent_found`: its decision row was read). The reason carries `fields` when given."""
    result = GateResult()
    result.deny(code, message, **({} if fields is None else {"fields": fields}))
    if not _recorded(actor, agent_slug, agent_found, result, None):
        result.deny(GateReason.AUDIT_UNAVAILABLE, "The decision could not be recorded.")
    return result
