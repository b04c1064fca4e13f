"""Fixtures shared by every test: users per role, an agent, the workflow driven to a state."""

import json
import os
from dataclasses import asdict
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.gate import gate_memos_clear
from audit.actors import Actor
from audit.models import AuditEvent
from config.roles import Scope, scopes_granted
from signoffs.models import Dimension, SignOffState, Verdict
from tests.factories import AgentFactory, UserFactory, manifest_for
from tokens.services import token_create

ALL_SCOPES = tuple(Scope.values)


def _audit_triggers(state: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE audit_auditevent {state} TRIGGER USER")


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    """Hash the test users' passwords cheaply: Django's default hasher, which the product
    keeps, takes half a second a user on this machine, and a test makes many users."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def no_gate_memos():
    """Start every test with no manifest read or compared by the gate in an earlier one."""
    gate_memos_clear()


@pytest.fixture(autouse=True)
def audit_triggers_around_flush(request):
    """Keep the append-only triggers on in every test, off only for Django's flush.

    Transactional tests end with a TRUNCATE of every table, which the trigger
    refuses; so they switch the triggers off on the way out, and every test
    that touches the database switches them back on first.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction")
    )
    if not (marker or {"db", "transactional_db"} & set(request.fixturenames)):
        yield
        return
    request.getfixturevalue("transactional_db" if transactional else "db")
    _audit_triggers("ENABLE")
    yield
    if transactional:
        _audit_triggers("DISABLE")


@pytest.fixture(autouse=True)
def lock_order(request, audit_triggers_around_flush):
    """Fail a test whose transaction locks a row after taking the audit chain's lock.

    tests/lockorder.py watches each transaction's statements; a lock or write of
    rows after its first audit event fails the test unless `SAFE` there says why it
    cannot deadlock. LOCK_ORDER=0 turns the guard off; LOCK_ORDER_REPORT=<file> turns
    it into a survey instead, appending every finding (and the rows each transaction
    locks before the chain's lock) to the file as JSON lines, failing nothing.
    """
    report = os.environ.get("LOCK_ORDER_REPORT")
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        request.fixturenames
    )
    if not uses_db or not (report or os.environ.get("LOCK_ORDER", "1") == "1"):
        yield
        return
    from django.db import connection

    from tests.lockorder import Watcher, unsafe

    watcher = Watcher(connection, before=bool(report))
    try:
        yield
    finally:
        findings = watcher.close()
    if report:
        with open(report, "a") as out:
            for finding in findings:
                out.write(json.dumps({"test": request.node.nodeid, **asdict(finding)}) + "\n")
    elif wrong := unsafe(findings):
        lines = [f"{f.kind} {f.table} at {' < '.join(f.frames[:4])}" for f in wrong]
        pytest.fail(
            "Rows locked after the audit chain's lock (taken at "
            f"{wrong[0].chain_frame}); lock them before the first event, or say in "
            "tests/lockorder.py SAFE why they cannot deadlock:\n" + "\n".join(lines)
        )


@pytest.fixture
def checklists(db):
    from approvals.checklists import checklists_load

    return checklists_load(actor=Actor.system("tests"))


@pytest.fixture
def owner(db):
    return UserFactory(username="owner", groups=["product-owner"])


@pytest.fixture
def other_owner(db):
    return UserFactory(username="other-owner", groups=["product-owner"])


@pytest.fixture
def reviewers(db):
    """Two reviewers per dimension: {"iam": [u1, u2], ...}."""
    return {
        dimension: [UserFactory(username=f"{dimension}{n}", groups=[dimension]) for n in (1, 2)]
        for dimension in Dimension.values
    }


@pytest.fixture
def staff(db):
    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def agent(db, owner):
    return AgentFactory(slug="support-assistant", owners=[owner])


@pytest.fixture
def as_actor():
    return Actor.for_user


class Workflow:
    """Drive the real services to put a package in a given state."""

    def __init__(self, owner, reviewers):
        self.owner = owner
        self.reviewers = reviewers

    def create(self, agent, manifest=None, **kwargs):
        from approvals.services import package_create

        return package_create(
            actor=Actor.for_user(self.owner),
            agent=agent,
            manifest=manifest or manifest_for(agent),
            **kwargs,
        )

    def submit(self, agent, manifest=None):
        from approvals.services import package_submit

        package = self.create(agent, manifest)
        return package_submit(actor=Actor.for_user(self.owner), package=package)

    def answers(self, package, dimension):
        checklist = package.signoffs.get(dimension=dimension).checklist
        return {item.code: True for item in checklist.items.all()}

    def decide(self, package, dimension, reviewer=None, verdict=Verdict.APPROVE, comment=""):
        from approvals.services import signoff_decide

        return signoff_decide(
            actor=Actor.for_user(reviewer or self.reviewers[dimension][0]),
            package=package,
            dimension=dimension,
            verdict=verdict,
            comment=comment or "Checked.",
            answers=self.answers(package, dimension) if verdict == Verdict.APPROVE else {},
        )

    def approve(self, agent, manifest=None):
        return self.approve_submitted(self.submit(agent, manifest))

    def approve_submitted(self, package):
        """Have each dimension's reviewers approve a package in review, as many as it needs.

        Sign-offs carried over from the approved version, or approved already, need nobody.
        """
        for dimension in Dimension.values:
            signoff = package.signoffs.get(dimension=dimension)
            if signoff.state in (SignOffState.CARRIED_OVER, SignOffState.APPROVED):
                continue
            needed = signoff.required_approvals
            for reviewer in self.reviewers[dimension][:needed]:
                self.decide(package, dimension, reviewer)
        package.refresh_from_db()
        return package

    def approve_after_suspension(self, agent, dimension, actor):
        """Approve a wider version of the agent, reviewed in full, after a suspension set
        aside the dimension's first reviewer's decision on it; its second decides it again."""
        from approvals.services import agent_suspend

        self.approve(agent)
        wider = manifest_for(agent)
        wider["scope"]["tools"].append(
            {"id": "refund-issue-2", "access": "read", "justification": "x"}
        )
        package = self.submit(agent, wider)
        first, second = self.reviewers[dimension][:2]
        self.decide(package, dimension, first)
        agent_suspend(actor=actor, agent=agent, reason="Incident under investigation.")
        self.decide(package, dimension, second)
        return self.approve_submitted(package)


@pytest.fixture
def workflow(checklists, owner, reviewers):
    return Workflow(owner, reviewers)


@pytest.fixture
def audit_since():
    """Return a function listing the audit events written after a mark."""

    def mark():
        last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        return lambda: list(AuditEvent.objects.filter(seq__gt=last).order_by("seq"))

    return mark


@pytest.fixture
def make_token(db):
    """Return a function creating a token: (token, secret).

    With no scopes named, the token carries every scope the user's role grants.
    """

    def make(
        user, *scopes, expires_in=timedelta(days=30), allowed_networks=(), name="ci", agents=()
    ):
        return token_create(
            actor=Actor.system("tests"),
            user=user,
            name=name,
            scopes=list(scopes) or scopes_granted(user),
            expires_at=timezone.now() + expires_in,
            allowed_networks=allowed_networks,
            agents=agents,
        )

    return make


@pytest.fixture
def api(make_token):
    """Return a function giving an APIClient that authenticates as the user with a token.

    The client's `token` attribute is the ApiToken used.
    """

    def client_for(user, *scopes, **kwargs):
        token, secret = make_token(user, *scopes, **kwargs)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        client.token = token
        client.secret = secret
        return client

    return client_for
