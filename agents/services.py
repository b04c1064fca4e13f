"""Writes on agents and observations."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from agents.identity import spiffe_id_errors
from agents.models import Agent, AgentStatus
from agents.permissions import can_edit, can_register
from agents.vocabulary import Deployment
from audit.actors import Actor
from audit.services import audit_record
from config.errors import AlreadyExists, InvalidInput, NotPermitted
from config.identifiers import identifier_message

# The agent's fields a package's manifest sets when it is approved.
MANIFEST_FIELDS = ("name", "team", "deployment", "workload_id", "log_principal")
# The agent's fields that are identifiers (config.identifiers); the others are text.
IDENTIFIER_FIELDS = ("slug", "team", "log_principal")


def agent_fields_from_manifest(manifest: dict) -> dict:
    return {
        "name": manifest["name"],
        "team": manifest.get("team") or "",
        "deployment": manifest["deployment"],
        "workload_id": manifest["identity"]["workload_id"],
        "log_principal": manifest["identity"]["log_principal"],
    }


def _validate(fields: dict, *, instance: Agent | None = None) -> None:
    errors: dict[str, list[str]] = {}
    taken: dict[str, list[str]] = {}
    if "workload_id" in fields:
        problems = spiffe_id_errors(fields["workload_id"])
        if problems:
            errors["workload_id"] = [f"A SPIFFE ID {p}." for p in problems]
        else:
            clash = Agent.objects.filter(workload_id=fields["workload_id"]).exclude(
                status=AgentStatus.RETIRED
            )
            if instance is not None:
                clash = clash.exclude(pk=instance.pk)
            if clash.exists():
                taken["workload_id"] = ["Another active agent already has this identity."]
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


@transaction.atomic
def agent_create(
    *,
    actor: Actor,
    slug: str,
    name: str,
    workload_id: str,
    log_principal: str,
    deployment: str,
    team: str = "",
    description: str = "",
    owners=(),
) -> Agent:
    """Register an agent; its creator owns it unless other owners are named."""
    if not actor.is_system:
        check = can_register(actor.user)
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
    try:
        with transaction.atomic():
            agent = Agent.objects.create(**fields)
    except IntegrityError:
        # Registered meanwhile by a concurrent request.
        raise AlreadyExists(
            "The agent clashes with another.", fields={"slug": ["Already taken."]}
        ) from None
    owner_list = list(owners) or ([actor.user] if actor.user is not None else [])
    agent.owners.set(owner_list)
    audit_record(
        actor=actor,
        action="agent.created",
        target=agent,
        agent_slug=agent.slug,
        after={**fields, "owners": sorted(u.get_username() for u in owner_list)},
    )
    return agent


@transaction.atomic
def agent_update(*, actor: Actor, agent: Agent, **changes) -> Agent:
    """Change an agent's descriptive fields and owners; identity changes go through a package."""
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if not actor.is_system and not can_edit(actor.user, agent):
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
    before = {name: getattr(agent, name) for name in changes}
    for name, value in changes.items():
        setattr(agent, name, value)
    agent.save(update_fields=[*changes, "updated_at"])
    after = dict(changes)
    if owners is not None:
        before["owners"] = sorted(agent.owners.values_list("username", flat=True))
        agent.owners.set(owners)
        after["owners"] = sorted(u.get_username() for u in owners)
    audit_record(
        actor=actor,
        action="agent.updated",
        target=agent,
        agent_slug=agent.slug,
        before=before,
        after=after,
    )
    return agent


def users_by_username(usernames) -> list:
    refused = [message for message in map(identifier_message, usernames) if message]
    if refused:
        raise InvalidInput("Owners are named by username.", fields={"owners": refused[:1]})
    users = list(get_user_model().objects.filter(username__in=usernames))
    missing = set(usernames) - {u.username for u in users}
    if missing:
        raise InvalidInput(
            "Unknown owners.",
            code="unknown_owner",
            fields={"owners": [f"No user {name!r}." for name in sorted(missing)]},
        )
    return users
