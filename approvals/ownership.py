"""Owner changes as the agent's reviews see them: owners never review their agent's package."""

from django.db import transaction

from agents import services as agent_services
from agents.models import Agent
from approvals.models import ApprovalPackage, PackageState
from audit.actors import Actor
from signoffs.permissions import may_review


def _packages_in_review(agent: Agent) -> list[ApprovalPackage]:
    return list(
        ApprovalPackage.objects.select_for_update(no_key=True)
        .filter(agent=agent, state=PackageState.IN_REVIEW)
        .order_by("version")
    )


def owners_guard(*, agent: Agent, added: list) -> list[str]:
    """Return why each added owner is refused: they may review a package in review.

    An owner never decides the agent's package, so making a reviewer an owner
    would take them out of its review; the owners choose no reviewers.
    """
    return [
        f"{user.get_username()} reviews v{package.version}, which is in review; "
        "owners never do, so they cannot become an owner until it is decided."
        for package in _packages_in_review(agent)
        for user in added
        if may_review(user, package)
    ]


@transaction.atomic
def agent_update(*, actor: Actor, agent: Agent, **changes) -> Agent:
    """Change an agent's name, description, team or owners (`agents.services.agent_update`).

    An owner change that would change who may review a package in review is
    refused with an `owners` error; owners added while a package is in review
    are recorded on it, so they never decide it even after they step out.
    """
    agent = agent_services.agent_update(
        actor=actor, agent=agent, owners_guard=owners_guard, **changes
    )
    if "owners" in changes:
        for package in _packages_in_review(agent):
            package.owners_in_review.add(*changes["owners"])
    return agent
