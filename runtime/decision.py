"""The policy decision: may this agent, now, do exactly this?

Allow only when the release gate would let a version of the agent ship (not
suspended, approved and not expired, no open critical drift: the gate's own
reading and reason codes, `approvals.gate.standing`) and the request stays
within that version: the entry exists, and every field the request names
(the access level, the entry's flags, chain depth, credential lifetime)
is not widened as the manifest diff defines widening
(`approvals.manifest.widens`). The versions are the gate's: the last approved
one, and a newer one under a granted emergency approval
(`approvals.gate.emergency_newer`), allowed inside its time box and denied
with `emergency_expired` after it. Anything that cannot be decided denies.
"""

import logging
from dataclasses import dataclass, field
from threading import Lock

from cachetools import LRUCache, cached

from agents.models import Agent, AgentStatus
from approvals import gate
from approvals.gate_vocabulary import GateReason
from approvals.manifest import KEY_BY_KIND, widens
from approvals.manifest.scope import scope_entries
from runtime.requests import CLAIMS, Evaluation
from tokens.selectors import token_binds

logger = logging.getLogger(__name__)

SUBJECT_TYPE = "agent"
# The codes a deny may carry: the gate's on the agent's standing, and the decision point's own,
# with what each means here.
STANDING_REASONS = (
    GateReason.UNKNOWN_AGENT,
    GateReason.NO_APPROVED_PACKAGE,
    GateReason.APPROVAL_EXPIRED,
    GateReason.EMERGENCY_EXPIRED,
    GateReason.AGENT_SUSPENDED,
    GateReason.AGENT_RETIRED,
    GateReason.OPEN_CRITICAL_DRIFT,
)
OWN_REASONS = {
    GateReason.AGENT_NOT_BOUND: "the token is bound to other agents",
    GateReason.SCOPE_MISMATCH: "the request goes beyond the approved scope",
    GateReason.INVALID_REQUEST: "this evaluation could not be read (`error` says why)",
    GateReason.INTERNAL_ERROR: "the decision point could not decide",
}
# The codes of a deny about the entry asked alone: `decision_of` gives them only while the
# agent's last approved version stands, when no version that stands holds the request (the
# entry, its access, a claim beyond it). Every other code may be the whole agent's. An
# enforcement point keeps its allows of other entries across such a deny (the copy in
# tools/countersign_enforce.py is held equal to this).
ENTRY_REASONS = frozenset({GateReason.SCOPE_MISMATCH})
# Package fields a claim is compared with (entry fields are under the entry's own path).
PACKAGE_CLAIMS = {
    "credential_ttl_seconds": "credentials.max_ttl_seconds",
    "credential_method": "credentials.method",
}


@dataclass
class Decision:
    """One answer: allow or deny, with the deny's reason codes; the agent it was about.

    `claims_only` marks a scope mismatch where the entry at that access is
    approved and only a claim (chain depth, credential lifetime, a flag of the
    entry) goes beyond it.
    """

    allowed: bool = False
    reasons: list[str] = field(default_factory=list)
    agent_slug: str | None = None
    claims_only: bool = False

    def as_dict(self) -> dict:
        """Return the decision in the AuthZEN shape; a deny names its reasons in context."""
        if self.allowed:
            return {"decision": True}
        reasons = self.reasons or [GateReason.INTERNAL_ERROR]
        return {"decision": False, "context": {"reason": reasons[0], "reasons": reasons}}


def _deny(code: str, slug: str | None = None) -> Decision:
    return Decision(False, [code], slug)


def scope_of(manifest: dict) -> dict:
    """Return what a decision compares with: a normalized manifest's entries by (kind, id)."""
    return {
        "entries": {(kind, entry["id"]): entry for kind, entry in scope_entries(manifest)},
        "chaining": manifest["chaining"],
        "credentials": manifest["credentials"],
    }


# The decision row's digest of the last approved version, and of the emergency's.
_DIGEST = {False: "digest", True: "emergency_digest"}


@cached(LRUCache(maxsize=64), key=lambda row, emergency: row[_DIGEST[emergency]], lock=Lock())
def _entries(row: dict, emergency: bool) -> dict:
    """Return a version's scope (`scope_of`), memoized by its digest."""
    return scope_of(gate.approved_manifest(row, emergency=emergency))


@dataclass(frozen=True)
class Standing:
    """The gate's answer on one version the agent may act on: its deny codes and its scope."""

    codes: tuple[str, ...]
    scope: dict | None  # None when there is no such version


def standings(row: dict | None, slug: str) -> list[Standing]:
    """Return the gate's standing on each version the agent may act on, last approved first."""
    found = []
    for emergency, codes in zip((False, True), gate.version_codes(row, slug), strict=False):
        known = row is not None and row[_DIGEST[emergency]] is not None
        found.append(Standing(codes, _entries(row, emergency) if known else None))
    return found


def decision_of(found: list[Standing], evaluation: Evaluation, slug: str) -> Decision:
    """Decide an evaluation from the agent's standings (`standings`).

    Allow when a version that stands holds the request. A deny carries the
    codes of the first version holding the request (an expired emergency's
    `emergency_expired`), else those of the last approved version, else (that
    version stands) the entry's `scope_mismatch` (ENTRY_REASONS).
    """
    holding = [s for s in found if s.scope is not None and within(s.scope, evaluation)]
    if any(not s.codes for s in holding):
        return Decision(True, [], slug)
    codes = holding[0].codes if holding else found[0].codes
    if codes:
        return Decision(False, list(codes), slug)
    claims_only = any(
        s.scope is not None and not s.codes and within(s.scope, evaluation, claims=False)
        for s in found
    )
    return Decision(False, [GateReason.SCOPE_MISMATCH], slug, claims_only)


def memos_clear() -> None:
    """Forget the memoized approved scopes (each test starts with none)."""
    _entries.cache_clear()


def within(approved: dict, evaluation: Evaluation, *, claims: bool = True) -> bool:
    """Tell whether the evaluation stays inside the approved scope (from `scope_of`).

    With `claims` false, only the entry and the access level are compared.
    """
    kind = evaluation.resource_type
    entry = approved["entries"].get((kind, evaluation.resource_id))
    if kind not in KEY_BY_KIND or entry is None:
        return False
    base = f"scope.{KEY_BY_KIND[kind]}[]"
    if widens(f"{base}.access", entry["access"], evaluation.action):
        return False
    if not claims:
        return True
    asked = evaluation.claims
    for name, (place, _check) in CLAIMS.items():
        if name not in asked:
            continue
        value = asked[name]
        if place == "resource":
            wider = widens(f"{base}.{name}", entry.get(name), value)
        elif name == "chain_depth":
            chaining = approved["chaining"]
            wider = widens("chaining.allowed", chaining["allowed"], value > 0) or widens(
                "chaining.max_depth", chaining["max_depth"], value
            )
        else:
            path = PACKAGE_CLAIMS[name]
            wider = widens(path, approved["credentials"].get(path.split(".")[1]), value)
        if wider:
            return False
    return True


class Decider:
    """Decide evaluations for one request's token, reading each agent once per request."""

    def __init__(self, token):
        self.token = token
        self._slugs: dict[tuple[str, str], str | None] = {}
        self._rows: dict[str, list[Standing] | None] = {}

    def _slug(self, subject_type: str, subject_id: str) -> str | None:
        key = (subject_type, subject_id)
        if key not in self._slugs:
            if subject_type != SUBJECT_TYPE:
                slug = None
            elif subject_id.startswith("spiffe://"):
                slug = (
                    Agent.objects.exclude(status=AgentStatus.RETIRED)
                    .filter(workload_id=subject_id)
                    .values_list("slug", flat=True)
                    .first()
                )
            else:
                slug = subject_id
            self._slugs[key] = slug
        return self._slugs[key]

    def _standings(self, slug: str) -> list[Standing] | None:
        """Return the agent's standings, read once; None when the token is not bound to it."""
        if slug not in self._rows:
            if not token_binds(self.token, slug):
                self._rows[slug] = None
            else:
                self._rows[slug] = standings(gate.decision_row(slug), slug)
        return self._rows[slug]

    def decide(self, evaluation: Evaluation) -> Decision:
        """Return the decision on one evaluation; any failure denies."""
        try:
            return self._decide(evaluation)
        except Exception:
            logger.exception("runtime decision failed")
            return _deny(GateReason.INTERNAL_ERROR)

    def _decide(self, evaluation: Evaluation) -> Decision:
        bound = self.token is not None and getattr(self.token, "bound", False)
        slug = self._slug(evaluation.subject_type, evaluation.subject_id)
        if slug is None:
            # A bound token learns nothing of agents outside its binding.
            return _deny(GateReason.AGENT_NOT_BOUND if bound else GateReason.UNKNOWN_AGENT)
        found = self._standings(slug)
        if found is None:
            return _deny(GateReason.AGENT_NOT_BOUND)
        return decision_of(found, evaluation, slug)
