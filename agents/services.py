"""Writes on agents and teams."""

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction

from agents.grants import kill_switch_grants_withdraw
from agents.identity import spiffe_id_errors
from agents.membership import actor_user_lock, staff_users_lock
from agents.models import (
    OWNERS_MAX,
    TEAM_NAME_LENGTH,
    TEAM_SLUG_LENGTH,
    UNIQUE_WORKLOAD_ID,
    Agent,
    AgentStatus,
    Team,
)
from agents.permissions import can_edit, can_register, can_use_team, not_team_member
from agents.vocabulary import Deployment
from audit.actors import Actor
from audit.services import audit_record
from config.errors import AlreadyExists, InvalidInput, InvalidTransition, NotPermitted
from config.identifiers import agent_slug_message, identifier_message
from config.usernames import users_named

# The agent's fields that are identifiers (config.identifiers); the others are text.
# (The team is one too: its slug is checked where it is looked up.)
IDENTIFIER_FIELDS = ("slug", "log_principal")

# Given the agent (locked) and the users an owner change adds, say why each is refused.
OwnersGuard = Callable[..., list[str]]
WORKLOAD_ID_TAKEN = "Another active agent already has this identity."


def agent_fields_from_manifest(manifest: dict) -> dict:
    return {
        "name": manifest["name"],
        "deployment": manifest["deployment"],
        "workload_id": manifest["identity"]["workload_id"],
        "log_principal": manifest["identity"]["log_principal"],
    }


def workload_id_taken(workload_id: str, *, instance: Agent | None = None) -> bool:
    """Tell whether an active agent other than `instance` has the workload identity."""
    clash = Agent.objects.filter(workload_id=workload_id).exclude(status=AgentStatus.RETIRED)
    if instance is not None:
        clash = clash.exclude(pk=instance.pk)
    return clash.exists()


def _broken_constraint(error: IntegrityError) -> str:
    """Return the name of the constraint the error broke ('' when the driver does not say)."""
    return getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) or ""


def manifest_agent_check(agent: Agent, manifest: dict) -> None:
    """Refuse a manifest naming another agent than the one its package is for, or another
    active agent's workload identity (which its approval would give this one)."""
    if manifest["agent"] != agent.slug:
        raise InvalidInput(
            "The manifest names another agent.",
            code="invalid_manifest",
            fields={"manifest.agent": [f"Expected {agent.slug!r}, got {manifest['agent']!r}."]},
        )
    if workload_id_taken(manifest["identity"]["workload_id"], instance=agent):
        raise AlreadyExists(
            "The manifest names another agent's workload identity.",
            code="workload_id_taken",
            fields={"manifest.identity.workload_id": [WORKLOAD_ID_TAKEN]},
        )


def agent_approved_save(agent: Agent, update_fields: list[str]) -> None:
    """Save the agent as an approved manifest set it.

    Refuse the manifest's workload identity if another active agent took it since
    the manifest was checked, or takes it at the same moment (the unique constraint
    decides that race).
    """
    taken = workload_id_taken(agent.workload_id, instance=agent)
    if not taken:
        try:
            with transaction.atomic():
                agent.save(update_fields=update_fields)
        except IntegrityError as error:
            if _broken_constraint(error) != UNIQUE_WORKLOAD_ID:
                raise
            taken = True
    if taken:
        raise InvalidTransition(
            "Another active agent took the manifest's workload identity meanwhile: submit a "
            "new version naming the agent's own.",
            code="workload_id_taken",
            fields={"manifest.identity.workload_id": [WORKLOAD_ID_TAKEN]},
        )


def manifest_team_check(agent: Agent, manifest: dict) -> None:
    """Refuse a manifest naming a team other than the agent's: staff administer teams."""
    team = agent.team.slug if agent.team_id else ""
    if manifest.get("team") not in (None, "", team):
        message = f"The agent's team is {team!r}; a manifest names it or no team."
        raise InvalidInput(message, code="invalid_manifest", fields={"manifest.team": [message]})


def refuse_retired(agent: Agent) -> None:
    """Refuse any new version or review of a retired agent: retirement is final."""
    if agent.retired_at is not None:
        raise InvalidTransition(
            f"Agent {agent.slug} is retired: it takes no new packages or reviews.",
            code="agent_retired",
        )


def _validate(fields: dict, *, instance: Agent | None = None) -> None:
    errors: dict[str, list[str]] = {}
    taken: dict[str, list[str]] = {}
    if "slug" in fields and agent_slug_message(fields["slug"]):
        errors["slug"] = [agent_slug_message(fields["slug"])]
    if "workload_id" in fields:
        problems = spiffe_id_errors(fields["workload_id"])
        if problems:
            errors["workload_id"] = [f"A SPIFFE ID {p}." for p in problems]
        elif workload_id_taken(fields["workload_id"], instance=instance):
            taken["workload_id"] = [WORKLOAD_ID_TAKEN]
    if "deployment" in fields and fields["deployment"] not in Deployment.values:
        errors["deployment"] = [f"Choose one of {', '.join(Deployment.values)}."]
    for name in ("name", "log_principal"):
        if name in fields and not str(fields[name]).strip():
            errors[name] = ["This field is required."]
    for name in IDENTIFIER_FIELDS:
        message = identifier_message(str(fields.get(name, "")))
        if message and name not in errors:
            errors[name] = [message]
    if errors:
        raise InvalidInput("Some agent fields are invalid.", fields=errors)
    if "slug" in fields and Agent.objects.filter(slug=fields["slug"]).exists():
        taken["slug"] = ["Already taken."]
    if taken:
        raise AlreadyExists("The agent clashes with another.", fields=taken)


def _check_team(user, team: Team | None) -> None:
    """Refuse a team the user is not a member of (staff and the system, user None, use any)."""
    if team is None or user is None:
        return
    check = can_use_team(user, team)
    if not check:
        raise InvalidInput(check.message, code=check.code, fields={"team": [check.message]})


def _audited(fields: dict) -> dict:
    """Return the fields as the audit trail records them: a team by its slug."""
    if "team" in fields:
        fields = {**fields, "team": fields["team"].slug if fields["team"] else ""}
    return fields


@transaction.atomic
def agent_create(
    *,
    actor: Actor,
    slug: str,
    name: str,
    workload_id: str,
    log_principal: str,
    deployment: str,
    team: Team | None = None,
    description: str = "",
    owners=(),
) -> Agent:
    """Register an agent; its creator owns it unless other owners are named.

    Product owners register agents only for teams they are members of.
    """
    # The actor's groups and teams as the last change of them left them (approvals.locks): a
    # group or team left either commits first and is read here, or waits for this commit.
    user = actor_user_lock(actor=actor)
    if user is not None:
        check = can_register(user)
        if not check:
            raise NotPermitted(check.message, code=check.code)
    fields = {
        "slug": slug,
        "name": name,
        "team": team,
        "description": description,
        "workload_id": workload_id,
        "log_principal": log_principal,
        "deployment": deployment,
    }
    _validate(fields)
    _check_team(user, team)
    try:
        with transaction.atomic():
            agent = Agent.objects.create(**fields)
    except IntegrityError as error:
        # Registered meanwhile by a concurrent request: the broken constraint names the field.
        taken = (
            {"workload_id": [WORKLOAD_ID_TAKEN]}
            if _broken_constraint(error) == UNIQUE_WORKLOAD_ID
            else {"slug": ["Already taken."]}
        )
        raise AlreadyExists("The agent clashes with another.", fields=taken) from None
    owners_refuse_inactive(owners)
    owner_list = list(owners) or ([actor.user] if actor.user is not None else [])
    agent.owners.set(owner_list)
    audit_record(
        actor=actor,
        action="agent.created",
        target=agent,
        agent_slug=agent.slug,
        after={**_audited(fields), "owners": sorted(u.get_username() for u in owner_list)},
    )
    return agent


@transaction.atomic
def agent_update(*, actor: Actor, agent: Agent, owners_guard: OwnersGuard, **changes) -> Agent:
    """Change an agent's descriptive fields, team and owners; identity changes go through a package.

    `owners_guard(agent=..., added=[...])` comes from the layer that knows the
    agent's reviews: it says why adding each user as an owner is refused. A change of the
    team or the owners withdraws the kill-switch grants of holders it leaves unable to see
    the agent (`agents.grants`).
    """
    agent = Agent.objects.select_for_update(no_key=True).get(pk=agent.pk)
    user = actor_user_lock(actor=actor)  # its teams as the last change left them, as agent_create
    if user is not None and not can_edit(user, agent):
        raise NotPermitted("Only the agent's owners and staff may change it.", code="not_owner")
    allowed = {"name", "description", "team", "owners"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(
            "Identity and deployment change through a new package version.",
            fields={name: ["Change this through a new package version."] for name in unknown},
        )
    owners = changes.pop("owners", None)
    _validate(changes, instance=agent)
    if "team" in changes and changes["team"] != agent.team:
        _check_team(user, changes["team"])
    before = _audited({name: getattr(agent, name) for name in changes})
    after = _audited(dict(changes))
    if owners is not None:
        current = list(agent.owners.all())
        added = [u for u in owners if u not in current]
        owners_refuse_inactive(added)
        refused = owners_guard(agent=agent, added=added)
        if refused:
            raise InvalidInput(
                "This owner change would change who may review the agent's package.",
                code="owners_in_review",
                fields={"owners": refused},
            )
        before["owners"] = sorted(u.get_username() for u in current)
        after["owners"] = sorted(u.get_username() for u in owners)
        agent.owners.set(owners)
    for name, value in changes.items():
        setattr(agent, name, value)
    agent.save(update_fields=[*changes, "updated_at"])
    audit_record(
        actor=actor,
        action="agent.updated",
        target=agent,
        agent_slug=agent.slug,
        before=before,
        after=after,
    )
    lost = _sight_lost(before, after)
    if lost:
        kill_switch_grants_withdraw(
            actor=actor, source=None, cause="agent.updated", because=lost, agent=agent
        )
    return agent


def _sight_lost(before: dict, after: dict) -> str:
    """Say what a change of the agent's team or owners did, which may take sight of it away
    from someone, as its withdrawals name it; '' when neither changed."""
    parts = []
    if before.get("team") != after.get("team"):
        team = after["team"] or before["team"]
        parts.append(f"the agent {'moved to' if after['team'] else 'left'} the team {team}")
    if before.get("owners") != after.get("owners"):
        parts.append("the agent's owners changed")
    return " and ".join(parts)


def owners_refuse_inactive(added) -> None:
    """Refuse to name a deactivated user an owner; one named before may stay or go."""
    inactive = sorted(user.get_username() for user in added if not user.is_active)
    if inactive:
        raise InvalidInput(
            "A deactivated user cannot be named an owner.",
            code="inactive_user",
            fields={
                "owners": [
                    f"{name} is deactivated: only an active user can be named an owner."
                    for name in inactive
                ]
            },
        )


def users_by_username(usernames) -> list:
    """Return the users of these usernames (in any case), active or not, or raise naming
    each unknown one."""
    usernames = list(usernames)
    if len(usernames) > OWNERS_MAX:
        problem = f"Name at most {OWNERS_MAX} owners ({len(usernames)} given)."
        raise InvalidInput(problem, fields={"owners": [problem]})
    refused = [message for message in map(identifier_message, usernames) if message]
    if refused:
        raise InvalidInput("Owners are named by username.", fields={"owners": refused[:1]})
    named = users_named(usernames)
    missing = {name for name, user in named.items() if user is None}
    if missing:
        raise InvalidInput(
            "Unknown owners.",
            code="unknown_owner",
            fields={"owners": [f"No user {name!r}." for name in sorted(missing)]},
        )
    return list({user.pk: user for user in named.values()}.values())


def team_by_slug(slug: str, *, user) -> Team | None:
    """Return the team of this slug (None for an empty one), or raise naming the field.

    `user` names it (None: the system). Only staff, who administer every team, are told
    that no team has the slug; anyone else is refused as for a team they are not a member
    of (`can_use_team`), so naming teams does not tell which exist.
    """
    if not slug:
        return None
    team = Team.objects.filter(slug=slug).first()
    if team is None and user is not None and not user.is_staff:
        check = not_team_member(slug)
        raise InvalidInput(check.message, code=check.code, fields={"team": [check.message]})
    if team is None:
        raise InvalidInput(
            "Unknown team.", code="unknown_team", fields={"team": [f"No team {slug!r}."]}
        )
    return team


@transaction.atomic
def team_create(*, actor: Actor, slug: str, name: str) -> Team:
    """Create a team (staff and the system administer teams); agents.membership changes its
    members."""
    # The actor's staff status as the last change left it, as every membership change reads it.
    staff_users_lock((), actor=actor, refusal="Only staff create teams.")
    errors = {}
    try:
        validate_slug(slug)
    except ValidationError as error:
        errors["slug"] = list(error.messages)
    else:
        if Team.objects.filter(slug=slug).exists():
            errors["slug"] = ["Already taken."]
    if len(slug) > TEAM_SLUG_LENGTH:
        errors["slug"] = [f"At most {TEAM_SLUG_LENGTH} characters."]
    if len(name) > TEAM_NAME_LENGTH:
        errors["name"] = [f"At most {TEAM_NAME_LENGTH} characters."]
    if not name.strip():
        errors["name"] = ["This field is required."]
    if errors:
        raise InvalidInput("The team is not valid.", fields=errors)
    try:
        with transaction.atomic():
            team = Team.objects.create(slug=slug, name=name.strip())
    except IntegrityError:
        # Created meanwhile by a concurrent request: the slug is the team's one unique field.
        raise AlreadyExists(
            "The team clashes with another.", fields={"slug": ["Already taken."]}
        ) from None
    audit_record(
        actor=actor, action="team.created", target=team, after={"slug": slug, "name": team.name}
    )
    return team
