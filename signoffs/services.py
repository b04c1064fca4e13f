"""Checklists and the derivation of a sign-off's state from its decisions."""

import re
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

import yaml
from django.db import transaction

from audit.actors import Actor
from audit.chain import format_time
from audit.services import audit_record
from config.errors import InvalidInput
from signoffs.models import Checklist, ChecklistItem, Decision, SignOff, SignOffState, Verdict

CHECKLIST_DIR = Path(__file__).resolve().parent / "checklists"
# The event of a decision: the moment the eligibility evidence reads it at.
SIGNOFF_DECIDED = "signoff.decided"


class ChecklistFileError(ValueError):
    """A checklist file that cannot be loaded, with the item and the reason."""


def covers_expand(pattern: str, fields: Collection[str]) -> list[str]:
    """Return the manifest fields a ``covers`` entry names, in order.

    An entry is a field path (``credentials.jit``), a section whose fields it
    all names (``kill_switch``, ``scope.tools[]``), and ``*`` stands for one
    name (``scope.*[].access``: the access of every kind of scope entry).
    """
    if not isinstance(pattern, str) or not pattern:
        return []
    regex = re.escape(pattern).replace(r"\*", r"[^.\[\]]+")
    matcher = re.compile(rf"{regex}(\..+)?")
    return [field for field in fields if matcher.fullmatch(field)]


def _item_covers(where: str, item: dict, fields: Collection[str]) -> list[str]:
    """Return an item's covered fields, expanded, or raise naming each unknown path."""
    patterns = item.get("covers", [])
    if not isinstance(patterns, list):
        raise ChecklistFileError(f"{where}: covers must be a list of manifest field paths.")
    covered: list[str] = []
    for pattern in patterns:
        expanded = covers_expand(pattern, fields)
        if not expanded:
            raise ChecklistFileError(f"{where}: covers names no manifest field: {pattern!r}.")
        covered += [field for field in expanded if field not in covered]
    return covered


@transaction.atomic
def checklists_load(
    *, actor: Actor, fields: Collection[str], path: Path | None = None
) -> list[Checklist]:
    """Create the checklist versions shipped as data that the database lacks.

    ``fields`` are the manifest's field paths, which each item's ``covers``
    must name; an unknown path stops the load and loads nothing. A shipped
    version is never rewritten: a wording change is a new version.
    """
    created = []
    files = [path] if path else sorted(CHECKLIST_DIR.glob("*.yaml"))
    for file in files:
        for spec in yaml.safe_load(file.read_text()):
            checklist, is_new = Checklist.objects.get_or_create(
                dimension=spec["dimension"],
                version=spec["version"],
                defaults={"title": spec["title"]},
            )
            if not is_new:
                continue
            where = f"{file.name}: {spec['dimension']} v{spec['version']}"
            ChecklistItem.objects.bulk_create(
                ChecklistItem(
                    checklist=checklist,
                    code=item["code"],
                    text=item["text"],
                    help_text=item.get("help_text", ""),
                    controls=item.get("controls", []),
                    required=item.get("required", True),
                    covers=_item_covers(f"{where} item {item['code']}", item, fields),
                    order=index,
                )
                for index, item in enumerate(spec["items"])
            )
            Checklist.objects.filter(
                dimension=checklist.dimension, version__lt=checklist.version
            ).update(is_active=False)
            audit_record(
                actor=actor,
                action="checklist.loaded",
                target=checklist,
                after={"dimension": checklist.dimension, "version": checklist.version},
            )
            created.append(checklist)
    return created


def checklist_current(dimension: str) -> Checklist:
    """Return the newest active checklist of a dimension."""
    checklist = (
        Checklist.objects.filter(dimension=dimension, is_active=True).order_by("-version").first()
    )
    if checklist is None:
        raise InvalidInput(
            f"No active {dimension} checklist is loaded; run `manage.py load_checklists`.",
            code="no_checklist",
        )
    return checklist


def answers_validate(*, signoff: SignOff, verdict: str, answers: dict) -> dict[str, bool]:
    """Return the answers cleaned, or raise naming every item that is wrong.

    Approving needs every item the sign-off requires answered yes.
    """
    items = {item.code: item for item in signoff.checklist.items.all()}
    errors: dict[str, list[str]] = {}
    if not isinstance(answers, dict):
        raise InvalidInput(
            "Checklist answers must map item codes to true or false.",
            fields={"answers": ["Expected an object of item code to true/false."]},
        )
    for code, value in answers.items():
        if code not in items:
            errors[f"answers.{code}"] = ["Not an item of this checklist."]
        elif not isinstance(value, bool):
            errors[f"answers.{code}"] = ["Answer true or false."]
    if verdict == Verdict.APPROVE:
        for code, item in items.items():
            if signoff.item_required(item) and answers.get(code) is not True:
                errors.setdefault(f"answers.{code}", []).append(
                    "Approving needs this required item answered yes."
                )
    if errors:
        raise InvalidInput("Some checklist answers are missing or invalid.", fields=errors)
    return dict(answers)


def signoff_state_from(decisions, required_approvals: int) -> SignOffState:
    """Return the state a sign-off's decisions give it: any rejection stands."""
    verdicts = [decision.verdict for decision in decisions]
    if Verdict.REJECT in verdicts:
        return SignOffState.REJECTED
    if Verdict.REQUEST_CHANGES in verdicts:
        return SignOffState.CHANGES_REQUESTED
    if verdicts.count(Verdict.APPROVE) >= required_approvals:
        return SignOffState.APPROVED
    return SignOffState.PENDING


def decision_record(
    *,
    actor: Actor,
    signoff: SignOff,
    verdict: str,
    comment: str,
    answers: dict,
    basis: str = "",
    on_behalf_of=None,
) -> Decision:
    """Record a decision and derive the sign-off's new state; the caller holds the package lock.

    `basis` and `on_behalf_of` say on what footing the reviewer decided
    (`signoffs.permissions.Standing`); the audit event records both.
    """
    if verdict not in Verdict.values:
        raise InvalidInput(
            "Unknown verdict.", fields={"verdict": [f"Choose one of {', '.join(Verdict.values)}."]}
        )
    if verdict != Verdict.APPROVE and not comment.strip():
        raise InvalidInput(
            "Say what must change.", fields={"comment": ["A comment is required to refuse."]}
        )
    cleaned = answers_validate(signoff=signoff, verdict=verdict, answers=answers)
    authentication = actor.authentication
    decision = Decision.objects.create(
        signoff=signoff,
        reviewer=actor.user,
        verdict=verdict,
        comment=comment,
        answers=cleaned,
        on_behalf_of=on_behalf_of,
        auth_method=authentication.method,
        auth_time=(
            datetime.fromtimestamp(authentication.at, tz=UTC)
            if authentication.at is not None
            else None
        ),
        auth_acr=authentication.acr,
        auth_amr=authentication.amr,
    )
    before = signoff.state
    signoff.state = signoff_state_from(signoff.decisions.standing(), signoff.required_approvals)
    signoff.save(update_fields=["state", "updated_at"])
    package = signoff.package
    audit_record(
        actor=actor,
        action=SIGNOFF_DECIDED,
        target=decision,
        agent_slug=package.agent.slug,
        package_version=package.version,
        before={"state": before},
        after={"state": signoff.state},
        data={
            "dimension": signoff.dimension,
            "verdict": verdict,
            "comment": comment,
            "answers": cleaned,
            "checklist_version": signoff.checklist.version,
            "authentication": decision_authentication(decision),
            "basis": basis,
            "on_behalf_of": on_behalf_of.get_username() if on_behalf_of else None,
        },
    )
    return decision


def decision_authentication(decision: Decision) -> dict:
    """Return how the decider authenticated, as the audit trail and the evidence record it."""
    return {
        "method": decision.auth_method,
        "auth_time": format_time(decision.auth_time) if decision.auth_time else None,
        "acr": decision.auth_acr,
        "amr": list(decision.auth_amr),
    }


def decision_on_behalf_of(decision: Decision) -> str:
    """Return the username of the absent reviewer the decision was made for, or ""."""
    return decision.on_behalf_of.get_username() if decision.on_behalf_of_id else ""
