"""Pages list dimensions in the vocabulary's order (IAM, PAM, Security, Compliance), and name
agents as the other tables do.

`config.ordering.rank` is the order, `ranked` its SQL twin: the selectors ordering in the
database and those sorting in Python agree with it.
"""

import pytest

from config.ordering import rank, ranked
from signoffs.models import Dimension, SignOff
from tests.factories import AgentFactory, DriftFindingFactory, UserFactory
from tests.web.dom import parse
from web.delegation import pending_signoffs
from web.selectors import agent_packages, package_signoffs, packages_awaiting

pytestmark = pytest.mark.django_db

IN_ORDER = ["iam", "pam", "security", "compliance"]


def test_the_rank_follows_the_vocabulary():
    assert list(rank(Dimension)) == Dimension.values == IN_ORDER


def test_the_database_ranks_as_python_does_and_puts_a_value_it_does_not_know_last(workflow, owner):
    package = workflow.submit(AgentFactory(owners=[owner]))
    SignOff.objects.filter(package=package, dimension="pam").update(dimension="legal")
    in_database = SignOff.objects.filter(package=package).order_by(ranked(Dimension, "dimension"))
    assert [signoff.dimension for signoff in in_database] == [
        "iam",
        "security",
        "compliance",
        "legal",
    ]
    known = [signoff for signoff in in_database if signoff.dimension in rank(Dimension)]
    assert sorted(known, key=lambda s: rank(Dimension)[s.dimension]) == known[:3]


def test_a_versions_signoffs_are_in_the_vocabularys_order(workflow, owner):
    package = workflow.submit(AgentFactory(owners=[owner]))
    (listed,) = agent_packages(package.agent)
    assert [signoff.dimension for signoff in listed.signoffs.all()] == IN_ORDER
    assert [signoff.dimension for signoff in package_signoffs(package)] == IN_ORDER


def test_the_pending_signoffs_of_an_agent_are_in_the_vocabularys_order(workflow, owner):
    package = workflow.submit(AgentFactory(owners=[owner]))
    assert [signoff.dimension for signoff in pending_signoffs(package.agent)] == IN_ORDER


def test_a_reviewer_of_every_dimension_is_queued_them_in_order(workflow, owner):
    package = workflow.submit(AgentFactory(owners=[owner]))
    everyone = UserFactory(groups=IN_ORDER)
    queue = packages_awaiting(everyone).filter(package=package)
    assert [signoff.dimension for signoff in queue] == IN_ORDER


def test_the_dashboards_open_findings_name_their_agent_as_the_other_tables_do(client, staff):
    agent = AgentFactory(slug="refund-bot", name="Refund assistant")
    DriftFindingFactory(agent=agent)
    client.force_login(staff)
    row = parse(client.get("/").content).find("section", id="drift").find("tbody").find("tr")
    cell = row.find_all("td")[0]
    assert cell.find("a").text() == "Refund assistant"
    assert cell.find(class_="mono").text() == "refund-bot"
