"""Who was eligible to decide a sign-off at the moment of each decision, read from the audit trail.

The moment of a decision is its `signoff.decided` event: membership changes
before it in the chain had happened, those after it had not. At that moment a
user was eligible to decide the dimension of the package (the rules of
`signoffs.permissions.can_decide`) when

1. they were a member of the dimension's reviewer group, their account active
   (one deactivated then is listed as excluded, `inactive`);
2. where the agent had reviewers assigned for the dimension (`review_<dimension>`),
   or staff had reassigned the sign-off to one reviewer (`signoff.reassigned`),
   they were one of them (or a superuser, whom Django's object permissions never
   refuse), or they stood in for one: the decider recorded as deciding on behalf
   of an assigned reviewer (`on_behalf_of`, the delegate of an absence), and,
   once the sign-off was past its review target, the agent's fallback reviewers
   of the dimension (`fallback_<dimension>`);
3. they had neither created nor submitted the package, nor owned the agent since
   its submission (the package's recorded owners in review and the agent's
   owners), and
4. they had not decided a sign-off of the package before, carried-over ones
   included (this dimension: once; another one: one dimension per person); a
   decision a suspension had set aside by then does not count.

Groups and assignments at the moment come from `agents.selectors.MembershipHistory`:
a user's last recorded change before the moment, else their first one after it,
else their state now. Each user's answer names the event it rests on (`basis`,
a seq of the chain; null where it rests on the present state).

Limits: membership is only as complete as its recording: a change made beneath
the application (SQL, a shell) is not seen. Whether an account was active reads
the same way from its `user.active_changed` events. Group members whom rule 1's
activity, 2, 3 or 4 excluded are listed with the reason.
"""

from django.contrib.auth import get_user_model

from agents.models import Agent
from agents.permissions import fallback_permission, review_permission
from agents.selectors import MembershipHistory
from approvals.delegation import REASSIGNED
from approvals.emergency import EMERGENCY_APPROVED
from audit.models import AuditEvent
from signoffs.models import Decision, Footing
from signoffs.permissions import package_decisions
from signoffs.services import SIGNOFF_DECIDED
from signoffs.sla import overdue_since

RULE = (
    "At the decision's event in the chain: active members of the dimension's reviewer group; "
    "where reviewers were assigned to the agent for the dimension (or staff reassigned the "
    "sign-off), only they, the delegate who decided on behalf of one of them, and, past the "
    "review target, the agent's fallback reviewers of the dimension; never the package's "
    "creator, submitter or the agent's owners since submission; nobody who had decided a "
    "sign-off of the package before (a decision a suspension had set aside by then does not "
    "count). Each user's membership and whether their account was "
    "active is the last recorded change before the decision, else the first one after it, "
    "else the present state."
)

EMERGENCY_RULE = (
    "At the approval's event in the chain: active members of the dimension's reviewer group "
    "(security or PAM); where reviewers were assigned to the agent for the dimension (or staff "
    "reassigned the package's sign-off of it), only they, the delegate who approved on behalf "
    "of one of them, and, past the sign-off's review target, the agent's fallback reviewers of "
    "the dimension; never the package's creator, submitter, the agent's owners since "
    "submission or the emergency's requester; nobody who gave the emergency's other approval "
    "before."
)


class Eligibility:
    """Compute eligibility for the decisions of one agent's packages."""

    def __init__(self, agent: Agent):
        self.agent = agent
        self.history = MembershipHistory(agent)
        events = AuditEvent.objects.filter(agent_slug=agent.slug, action=SIGNOFF_DECIDED)
        self.decision_seq, self.decision_basis = {}, {}
        for target, seq, data in events.values_list("target_id", "seq", "data"):
            self.decision_seq[int(target)] = seq
            self.decision_basis[int(target)] = (data or {}).get("basis") or ""
        reassigned = AuditEvent.objects.filter(agent_slug=agent.slug, action=REASSIGNED)
        rows = list(reassigned.order_by("seq").values_list("target_id", "seq", "data"))
        names = {data.get("user") for _, _, data in rows}
        users = get_user_model().objects.filter(username__in=names)
        ids = dict(users.values_list("username", "pk"))
        # sign-off id -> [(seq, user id)], in chain order.
        self.reassignments: dict[int, list] = {}
        for target, seq, data in rows:
            self.reassignments.setdefault(int(target), []).append((seq, ids.get(data.get("user"))))

    def _assigned(self, signoff, seq: int) -> dict[int, int | None]:
        """Return {user id: basis seq} of the reviewers the sign-off waited for at `seq`."""
        before = [row for row in self.reassignments.get(signoff.pk, []) if row[0] < seq]
        if before and before[-1][1] is not None:
            return {before[-1][1]: before[-1][0]}
        return self.history.assigned_at(review_permission(signoff.dimension), seq)

    def _stand_ins(
        self, signoff, seq: int, assigned: dict, *, at, decider_id, basis, on_behalf_of_id
    ) -> dict[int, int | None]:
        """Return {user id: basis seq} of who stood in for the assigned reviewers at `seq`:
        past the sign-off's review target (at the moment `at`), its fallback reviewers, and
        the decider recorded as deciding on behalf of an assigned reviewer."""
        stand_ins = {}
        due = overdue_since(signoff)
        if due is not None and at >= due:
            stand_ins.update(self.history.assigned_at(fallback_permission(signoff.dimension), seq))
        if basis == Footing.DELEGATE and on_behalf_of_id in assigned:
            stand_ins[decider_id] = seq
        return stand_ins

    def of(self, decision: Decision) -> dict:
        """Return who was eligible to decide the decision's dimension at its moment."""
        signoff = decision.signoff
        package = signoff.package
        dimension = signoff.dimension
        seq = self.decision_seq.get(decision.pk)
        if seq is None:
            return {"decision": decision.pk, "dimension": dimension, "at_seq": None}
        candidates = self.history.members_at(dimension, seq)
        inactive = self.history.inactive_at(candidates, seq)
        assigned = self._assigned(signoff, seq)
        stand_ins = self._stand_ins(
            signoff,
            seq,
            assigned,
            at=decision.created_at,
            decider_id=decision.reviewer_id,
            basis=self.decision_basis.get(decision.pk),
            on_behalf_of_id=decision.on_behalf_of_id,
        )
        excluded = self._excluded(package, candidates, assigned, stand_ins, inactive)
        earlier = package_decisions(package, at=decision.created_at).exclude(pk=decision.pk)
        for other_id, user_id, other_dimension in earlier.values_list(
            "pk", "reviewer_id", "signoff__dimension"
        ):
            other_seq = self.decision_seq.get(other_id)
            if user_id in candidates and user_id not in excluded and other_seq and other_seq < seq:
                same = other_dimension == dimension
                excluded[user_id] = "already_decided" if same else "other_dimension"
        return {
            "decision": decision.pk,
            "dimension": dimension,
            "reviewer": decision.reviewer.get_username(),
            "at_seq": seq,
            "reviewers_assigned": sorted(self.history.username(u) for u in assigned),
            "stood_in": sorted(self.history.username(u) for u in stand_ins if u in candidates),
            "decided_as": self.decision_basis.get(decision.pk) or None,
            **self._answer(
                decision.reviewer_id, candidates, assigned, stand_ins, excluded, inactive
            ),
        }

    def _excluded(
        self, package, candidates: dict, assigned: dict, stand_ins: dict, inactive: dict
    ) -> dict:
        """Return {user id: reason} of the members whom deactivation, assignment or authorship
        excluded."""
        excluded = dict.fromkeys(inactive, "inactive")
        if assigned:
            others = set(candidates) - set(assigned) - set(stand_ins) - self.history.superusers
            for user_id in others - set(excluded):
                excluded[user_id] = "not_assigned"
        owners = set(package.owners_in_review.values_list("pk", flat=True))
        owners |= set(package.agent.owners.values_list("pk", flat=True))
        for user_id in candidates:
            if user_id in excluded:
                continue
            if user_id in (package.created_by_id, package.submitted_by_id):
                excluded[user_id] = "self_review"
            elif user_id in owners:
                excluded[user_id] = "owner_review"
        return excluded

    def _answer(self, decider_id, candidates, assigned, stand_ins, excluded, inactive) -> dict:
        """Return who was eligible, who was excluded and why, and the events it rests on."""
        name = self.history.username
        eligible = sorted(name(u) for u in candidates if u not in excluded)
        basis = {candidates[u] for u in candidates} | set(assigned.values())
        basis |= set(inactive.values())
        basis |= {stand_ins[u] for u in stand_ins if u in candidates}
        return {
            "eligible": eligible,
            "excluded": sorted(
                ({"user": name(u), "reason": reason} for u, reason in excluded.items()),
                key=lambda row: row["user"],
            ),
            "reviewer_was_eligible": name(decider_id) in eligible,
            "basis": sorted(b for b in basis if b is not None),
        }

    def of_emergency(self, emergency) -> list[dict]:
        """Return who was eligible to give each approval of an emergency release, at its moment.

        The reviewer rules of the package's sign-off of the dimension (group, assignment or
        reassignment, a delegate or fallback reviewer standing in, authorship), and never
        the requester or whoever gave the emergency's other approval before.
        """
        events = AuditEvent.objects.filter(
            action=EMERGENCY_APPROVED, target_id=str(emergency.pk), agent_slug=self.agent.slug
        ).order_by("seq")
        approvals = list(events.values_list("seq", "created_at", "data"))
        signoffs = {signoff.dimension: signoff for signoff in emergency.package.signoffs.all()}
        names = {(data or {}).get("on_behalf_of") for _, _, data in approvals} - {None}
        ids = dict(
            get_user_model().objects.filter(username__in=names).values_list("username", "pk")
        )
        rows, approved_by = [], {}
        for seq, created_at, data in approvals:
            data = data or {}
            dimension = data.get("dimension", "")
            approver = getattr(emergency, f"{dimension}_approver", None)
            approver_id = approver.pk if approver is not None else None
            candidates = self.history.members_at(dimension, seq)
            inactive = self.history.inactive_at(candidates, seq)
            signoff = signoffs.get(dimension)
            # Every submitted version has its sign-offs; the agent's assignment serves otherwise.
            assigned = self.history.assigned_at(review_permission(dimension), seq)
            stand_ins = {}
            if signoff is not None:
                assigned = self._assigned(signoff, seq)
                stand_ins = self._stand_ins(
                    signoff,
                    seq,
                    assigned,
                    at=created_at,
                    decider_id=approver_id,
                    basis=data.get("basis"),
                    on_behalf_of_id=ids.get(data.get("on_behalf_of")),
                )
            excluded = self._excluded(emergency.package, candidates, assigned, stand_ins, inactive)
            for user_id in candidates:
                if user_id in excluded:
                    continue
                if user_id == emergency.requested_by_id:
                    excluded[user_id] = "self_review"
                elif user_id in approved_by.values():
                    excluded[user_id] = "other_dimension"
            rows.append(
                {
                    "emergency": emergency.pk,
                    "dimension": dimension,
                    "reviewer": approver.get_username() if approver else None,
                    "at_seq": seq,
                    "reviewers_assigned": sorted(self.history.username(u) for u in assigned),
                    "stood_in": sorted(
                        self.history.username(u) for u in stand_ins if u in candidates
                    ),
                    "approved_as": data.get("basis") or None,
                    **self._answer(
                        approver_id, candidates, assigned, stand_ins, excluded, inactive
                    ),
                }
            )
            approved_by[dimension] = approver_id
        return rows


def eligibility_of(decisions, emergency=None) -> dict:
    """Return the rules and, per decision (of one agent's packages) and per approval of the
    emergency release, if any, who was eligible."""
    by_agent = {}
    rows = []
    for decision in decisions:
        agent = decision.signoff.package.agent
        if agent.pk not in by_agent:
            by_agent[agent.pk] = Eligibility(agent)
        rows.append(by_agent[agent.pk].of(decision))
    result = {"rule": RULE, "decisions": rows}
    if emergency is not None:
        result["emergency_rule"] = EMERGENCY_RULE
        result["emergency_approvals"] = Eligibility(emergency.agent).of_emergency(emergency)
    return result
