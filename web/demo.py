"""Demo users and agents in every state, so every screen has something real to show."""

import copy
from datetime import timedelta
from pathlib import Path

import yaml
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from agents.membership import Source, reviewer_assign, team_members_change, user_groups_change
from agents.models import Agent, Team
from agents.observations import observations_record
from agents.services import agent_create, team_create
from approvals.comments import comment_create
from approvals.drift import drift_evaluate
from approvals.emergency import emergency_request
from approvals.services import agent_suspend, package_create, package_submit, signoff_decide
from audit.actors import Actor
from audit.checkpoints import checkpoint_create
from config.errors import AlreadyExists
from config.roles import Group as Role
from config.usernames import user_named
from signoffs.absence import absence_set
from signoffs.models import Dimension, Verdict

DEMO_PASSWORD = "countersign-demo"  # noqa: S105 - published demo login, never production
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# username -> (groups, is_staff, description)
DEMO_USERS = {
    "owner": ([Role.PRODUCT_OWNER], False, "product owner (owns every demo agent)"),
    "owner2": ([Role.PRODUCT_OWNER], False, "product owner of another team"),
    "iam1": ([Role.IAM], False, "IAM reviewer"),
    "iam2": ([Role.IAM], False, "IAM reviewer"),
    "pam1": ([Role.PAM], False, "PAM reviewer"),
    "pam2": ([Role.PAM], False, "PAM reviewer"),
    "security1": ([Role.SECURITY], False, "security reviewer"),
    "security2": ([Role.SECURITY], False, "security reviewer"),
    "compliance1": ([Role.COMPLIANCE], False, "compliance reviewer"),
    "compliance2": ([Role.COMPLIANCE], False, "compliance reviewer"),
    "auditor": ([Role.COMPLIANCE_OFFICER], False, "compliance officer (audit, evidence)"),
    "admin": ([], True, "administrator (Django admin)"),
}

# slug -> (name, members): the reference manifests' teams, and one the owner is not in.
DEMO_TEAMS = {
    "customer-care": ("Customer care", ["owner"]),
    "people-ops": ("People operations", ["owner"]),
    "finance": ("Finance", ["owner2"]),
}

REVIEWERS = {
    Dimension.IAM: "iam1",
    Dimension.PAM: "pam1",
    Dimension.SECURITY: "security1",
    Dimension.COMPLIANCE: "compliance1",
}
SECOND_REVIEWERS = {Dimension.SECURITY: "security2"}


def demo_names_check() -> None:
    """Refuse, naming each, the demo users' names another user holds in another case.

    The demo's users are people: one is found by its name as written, and a user holding
    the name in another case is someone else, whom the demo neither takes over nor renames.
    """
    held = []
    for username in DEMO_USERS:
        user = user_named(username)
        if user is not None and user.get_username() != username:
            held.append(f"{username!r} is held as {user.get_username()!r} (user id {user.pk})")
    if held:
        raise AlreadyExists(
            f"The demo users cannot be created: {'; '.join(held)}. "
            "Rename or delete those users first.",
            fields={"username": held},
        )


def demo_users() -> dict:
    demo_names_check()
    User = get_user_model()
    users = {}
    for username, (groups, is_staff, _) in DEMO_USERS.items():
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "is_staff": is_staff,
                "is_superuser": is_staff,
                "email": f"{username}@example.com",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user_groups_change(user, actor=Actor.system("demo"), source=Source.COMMAND, add=groups)
        users[username] = user
    return users


def demo_teams(users) -> dict:
    """Create the demo teams that are missing, with their members; return them by slug."""
    actor = Actor.system("demo")
    teams = {}
    for slug, (name, members) in DEMO_TEAMS.items():
        team = Team.objects.filter(slug=slug).first() or team_create(
            actor=actor, slug=slug, name=name
        )
        teams[slug] = team_members_change(
            actor=actor,
            team=team,
            source=Source.COMMAND,
            add=[users[username] for username in members],
        )
    return teams


def _manifest(name: str, **changes) -> dict:
    doc = yaml.safe_load((EXAMPLES / name).read_text())
    doc = copy.deepcopy(doc)
    doc["kill_switch"]["last_tested"] = (timezone.now().date() - timedelta(days=7)).isoformat()
    doc.update(changes)
    return doc


def _answers(package, dimension) -> dict:
    signoff = package.signoffs.get(dimension=dimension)
    return {item.code: True for item in signoff.checklist.items.all()}


def _approve_all(package, users, dimensions=tuple(Dimension.values)) -> None:
    for dimension in dimensions:
        names = [REVIEWERS[dimension]]
        if package.signoffs.get(dimension=dimension).required_approvals > 1:
            names.append(SECOND_REVIEWERS[dimension])
        for name in names:
            signoff_decide(
                actor=Actor.for_user(users[name]),
                package=package,
                dimension=dimension,
                verdict=Verdict.APPROVE,
                comment="Reviewed against the checklist.",
                answers=_answers(package, dimension),
            )


def _agent(users, teams, doc, owner="owner") -> Agent:
    return agent_create(
        actor=Actor.for_user(users[owner]),
        slug=doc["agent"],
        name=doc["name"],
        team=teams.get(doc.get("team") or ""),
        workload_id=doc["identity"]["workload_id"],
        log_principal=doc["identity"]["log_principal"],
        deployment=doc["deployment"],
        description=doc["justification"],
    )


def _renamed(doc: dict, slug: str, name: str) -> dict:
    doc = copy.deepcopy(doc)
    doc["agent"] = slug
    doc["name"] = name
    doc["identity"]["workload_id"] = doc["identity"]["workload_id"].rsplit("/", 1)[0] + "/" + slug
    doc["identity"]["log_principal"] = f"agent:{slug}"
    return doc


@transaction.atomic
def seed_demo() -> list[str]:
    """Create the demo users and agents that are missing; return what was created."""
    users = demo_users()
    teams = demo_teams(users)
    created = []
    owner = Actor.for_user(users["owner"])

    def make(slug, doc, build):
        if Agent.objects.filter(slug=slug).exists():
            return
        agent = _agent(users, teams, doc)
        build(agent, doc)
        created.append(slug)

    def approved(agent, doc):
        package = package_create(actor=owner, agent=agent, manifest=doc)
        package_submit(actor=owner, package=package)
        _approve_all(package, users)

    def drifted(agent, doc):
        # The runtime reports a dataset the approval never named: a live finding to
        # acknowledge or resolve on the agent's page (high, not critical: a read).
        approved(agent, doc)
        observations_record(
            actor=Actor.system("demo runtime"),
            agent=agent,
            items=[{"kind": "dataset", "identifier": "payroll-history", "access": "read"}],
        )
        drift_evaluate(actor=Actor.system("demo"))

    def in_review(agent, doc):
        # pam1 reviews its PAM sign-off but is away: pam2 decides it on their behalf.
        for user, permission in [("pam1", "review_pam"), ("pam2", "fallback_pam")]:
            reviewer_assign(
                actor=Actor.system("demo"),
                agent=agent,
                user=users[user],
                permission=permission,
                source=Source.COMMAND,
            )
        now = timezone.now()
        absence_set(
            actor=Actor.for_user(users["pam1"]),
            reviewer=users["pam1"],
            dimension=Dimension.PAM,
            delegate=users["pam2"],
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=14),
        )
        package = package_create(actor=owner, agent=agent, manifest=doc)
        package_submit(actor=owner, package=package)
        _approve_all(package, users, dimensions=(Dimension.IAM,))

    def expanded(agent, doc):
        approved(agent, doc)
        # Its runtime used part of the approval: the rest shows as never used, to narrow.
        observations_record(
            actor=Actor.system("demo runtime"),
            agent=agent,
            items=[
                {"kind": kind, "identifier": identifier, "access": access, "count": count}
                for kind, identifier, access, count in [
                    ("action", "ticket.create", "write", 412),
                    ("tool", "zendesk", "write", 398),
                    ("tool", "kb-search", "read", 1250),
                    ("dataset", "crm.customers", "read", 377),
                ]
            ],
        )
        wider = copy.deepcopy(doc)
        wider["scope"]["tools"].append(
            {"id": "order-lookup", "access": "read", "trust_boundary": "internal"}
        )
        package = package_create(actor=owner, agent=agent, manifest=wider)
        # Asked to ship early: security and PAM find it on their dashboards to approve.
        emergency_request(
            actor=owner,
            package=package,
            reason="Order lookup must be live for the holiday peak before the review ends.",
        )
        question = comment_create(
            actor=Actor.for_user(users["iam1"]),
            package=package,
            body="Which identity does order-lookup see: the agent's or the customer's? @owner",
            entry={"kind": "tool", "identifier": "order-lookup"},
        )
        comment_create(
            actor=owner,
            package=package,
            body="The agent's SVID; the customer's id is only a query parameter.",
            parent=question,
        )

    def draft(agent, doc):
        package_create(actor=owner, agent=agent, manifest=doc)

    def changes_requested(agent, doc):
        package = package_create(actor=owner, agent=agent, manifest=doc)
        package_submit(actor=owner, package=package)
        signoff_decide(
            actor=Actor.for_user(users["security1"]),
            package=package,
            dimension=Dimension.SECURITY,
            verdict=Verdict.REQUEST_CHANGES,
            comment="Lower the credential TTL to 10 minutes and add a chaining limit.",
        )
        comment_create(
            actor=owner,
            package=package,
            body="Agreed: v2 will have a 10-minute TTL and a chaining depth of 2.",
            decision=package.signoffs.get(dimension=Dimension.SECURITY).decisions.get(),
        )

    def suspended(agent, doc):
        approved(agent, doc)
        agent_suspend(
            actor=Actor.for_user(users["security1"]),
            agent=agent,
            reason="Unexpected calls to an unapproved payments endpoint.",
        )

    hr = _manifest("hr-copilot.yaml")
    support = _manifest("support-agent.yaml")
    make("hr-policy-copilot", hr, drifted)
    make("support-assistant", support, expanded)
    make(
        "it-helpdesk-copilot", _renamed(hr, "it-helpdesk-copilot", "IT helpdesk copilot"), in_review
    )
    make(
        "claims-intake",
        _renamed(support, "claims-intake", "Claims intake assistant"),
        changes_requested,
    )
    make("travel-booking", _renamed(support, "travel-booking", "Travel booking agent"), suspended)
    make("sales-notes", _renamed(hr, "sales-notes", "Sales notes summarizer"), draft)
    if created:
        # The demo's trail is vouched for by a signed checkpoint from the start, as the
        # checkpoint job leaves a deployed one's within 15 minutes.
        checkpoint_create(actor=Actor.system("demo"))
    return created
