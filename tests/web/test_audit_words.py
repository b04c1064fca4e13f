"""The audit trail in words: a sentence per action and the recorded data as labelled facts."""

import ast
import importlib
import re
from pathlib import Path

import pytest
from django.db import transaction
from django.urls import reverse

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from signoffs.models import Verdict
from web import audit_words

pytestmark = pytest.mark.django_db


def test_a_decision_reads_as_who_did_what_to_which_version(workflow, agent):
    package = workflow.submit(agent)
    workflow.decide(package, "iam")
    workflow.decide(package, "security", verdict=Verdict.REQUEST_CHANGES, comment="Too wide.")
    decided = AuditEvent.objects.filter(action="signoff.decided").order_by("seq")
    approved, changes = [audit_words.event_sentence(e) for e in decided]
    assert approved == "iam1 approved the IAM sign-off of support-assistant v1"
    assert changes == "security1 requested changes on the Security sign-off of support-assistant v1"
    facts = {f.label: f.value for f in audit_words.event_facts(decided[0])}
    assert facts["State"] == "Pending → Approved"
    assert facts["Dimension"] == "IAM" and facts["Verdict"] == "Approved"
    assert facts["Comment"] == "Checked."


def test_every_action_the_product_writes_has_a_sentence(workflow, agent):
    """Every action of the workflow reads as words."""
    package = workflow.approve(agent)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"package.created", "package.submitted", "signoff.decided", "package.approved"} <= (
        actions
    )
    missing = actions - set(audit_words.SENTENCES)
    assert not missing
    for event in AuditEvent.objects.all():
        sentence = audit_words.event_sentence(event)
        assert "recorded" not in sentence and "{" not in sentence, sentence
    approved = AuditEvent.objects.get(action="package.approved")
    assert audit_words.event_sentence(approved) == (
        f"support-assistant v{package.version} is approved: every sign-off is complete"
    )


def test_an_approval_that_lifts_a_suspension_says_so(workflow, agent):
    """The timeline shows when the kill switch stopped holding, not only when it was pulled."""
    package = workflow.approve_after_suspension(agent, "iam", Actor.system("tests"))
    approved = AuditEvent.objects.filter(action="package.approved").order_by("seq").last()
    assert audit_words.event_sentence(approved) == (
        f"support-assistant v{package.version} is approved: every sign-off is complete; "
        "the suspension of support-assistant is lifted"
    )


# The functions that append an event; `action` is their keyword argument.
WRITERS = {"audit_record", "audit_record_alone"}
PRODUCT = ["agents", "api", "approvals", "audit", "identity", "outbox", "runtime", "signoffs"]
PRODUCT += ["tokens", "web"]


class WrittenActions:
    """Read from the product's source every action its calls of the audit writers can pass.

    An action is a string literal, a module's constant (or a dict of them), an f-string over
    an enum member, or a parameter of the calling function, followed to every call of that
    function. Any other expression fails the test: it has to be taught here first.
    """

    def __init__(self, root: Path):
        self.calls = []  # (module, enclosing function, call)
        self.imported = {}  # (module, name) -> the module it is imported from
        for app in PRODUCT:
            for path in (root / app).rglob("*.py"):
                if "migrations" in path.parts:
                    continue
                module = ".".join(path.relative_to(root).with_suffix("").parts)
                self._walk(ast.parse(path.read_text()), module, None)

    def _walk(self, node, module, function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ImportFrom):
                for alias in child.names:
                    self.imported[module, alias.asname or alias.name] = child.module
            if isinstance(child, ast.FunctionDef):
                self._walk(child, module, child)
                continue
            if isinstance(child, ast.Call):
                self.calls.append((module, function, child))
            self._walk(child, module, function)

    @staticmethod
    def _name(call) -> str:
        return getattr(call.func, "id", None) or getattr(call.func, "attr", "")

    def all(self) -> set[str]:
        actions = set()
        for module, function, call in self.calls:
            for keyword in call.keywords:
                if self._name(call) in WRITERS and keyword.arg == "action":
                    actions |= self._values(keyword.value, module, function)
        return {str(action) for action in actions}

    def _values(self, node, module, function) -> set:
        where = f"{module}:{node.lineno} {ast.unparse(node)}"
        if isinstance(node, ast.Constant):
            return {node.value}
        if isinstance(node, ast.JoinedStr):
            texts = {""}
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    values = self._values(part.value, module, function)
                else:
                    values = {part.value}
                texts = {text + str(value) for text in texts for value in values}
            return texts
        if isinstance(node, ast.Attribute) and self._parameter(node.value, function):
            return {getattr(v, node.attr) for v in self._values(node.value, module, function)}
        if isinstance(node, ast.Name) and self._parameter(node, function):
            return self._arguments(node.id, function, module, where)
        try:
            if isinstance(node, ast.Subscript) and not self._parameter(node.value, function):
                return set(self._constant(node.value, module).values())
            if isinstance(node, ast.Name | ast.Attribute):
                return {self._constant(node, module)}
        except AttributeError:
            pass
        raise AssertionError(f"{where}: teach this test how to read the action")

    def _constant(self, node, module: str):
        """Return what a module's name or dotted name (`PackageState.REVOKED`) holds."""
        if isinstance(node, ast.Attribute):
            return getattr(self._constant(node.value, module), node.attr)
        return getattr(importlib.import_module(module), node.id)

    @staticmethod
    def _parameter(node, function) -> bool:
        if not isinstance(node, ast.Name) or function is None:
            return False
        spec = function.args
        return node.id in {a.arg for a in [*spec.posonlyargs, *spec.args, *spec.kwonlyargs]}

    def _arguments(self, name: str, function, defined_in: str, where: str) -> set:
        """Return what every call of `function` passes as its parameter `name`."""
        positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        values, calls = set(), 0
        for module, caller, call in self.calls:
            if self._name(call) != function.name:
                continue
            if module != defined_in and self.imported.get((module, function.name)) != defined_in:
                continue
            passed = [k.value for k in call.keywords if k.arg == name]
            if not passed and name in positional and positional.index(name) < len(call.args):
                passed = [call.args[positional.index(name)]]
            assert passed, f"{module}:{call.lineno} calls {function.name} without {name}"
            values |= self._values(passed[0], module, caller)
            calls += 1
        assert calls, f"{where}: nothing calls {function.name}"
        return values


def test_every_action_the_code_can_write_has_a_sentence():
    """An action written anywhere in the product, however spelled, reads as words on the pages."""
    written = WrittenActions(Path(__file__).resolve().parents[2]).all()
    # A literal, a constant, a dict of constants, a parameter, an f-string over an enum.
    assert {"user.created", "signoff.decided", "absence.set", "user.staff_changed"} <= written
    assert {"drift.acknowledged", "user.groups_changed", "gate.checked"} <= written
    assert {"package.rejected", "package.expired", "emergency.concluded"} <= written
    missing = written - set(audit_words.SENTENCES)
    assert not missing, f"no sentence for {sorted(missing)}"


def test_the_audit_page_offers_every_action_it_describes(client, reviewers):
    client.force_login(reviewers["compliance"][0])
    html = client.get(reverse("audit-log")).content.decode()
    datalist = re.search(r'<datalist id="known-actions">(.*?)</datalist>', html).group(1)
    assert set(re.findall(r'<option value="([a-z_.]+)">', datalist)) == set(audit_words.SENTENCES)


def test_an_unknown_action_or_a_value_the_event_lacks_falls_back_to_a_plain_sentence(db, owner):
    with transaction.atomic():
        unknown = audit_record(actor=Actor.for_user(owner), action="test.event", agent_slug="x")
        lacking = audit_record(actor=Actor.for_user(owner), action="signoff.escalated")
    assert audit_words.event_sentence(unknown) == "owner recorded test.event on x"
    assert audit_words.event_sentence(lacking) == "owner recorded signoff.escalated"


def test_system_jobs_and_gate_decisions_in_words(db):
    with transaction.atomic():
        escalated = audit_record(
            actor=Actor.system("celery:reviews_escalate"),
            action="signoff.escalated",
            agent_slug="support-assistant",
            package_version=4,
            data={"dimension": "pam", "pending_days": 7, "sla_days": 5, "escalated_to": ["pam2"]},
        )
        denied = audit_record(
            actor=Actor.system("ci"),
            action="gate.checked",
            agent_slug="support-assistant",
            package_version=3,
            data={"decision": "deny", "reasons": ["scope_mismatch"], "requested_digest": None},
        )
    assert audit_words.event_sentence(escalated) == (
        "The PAM sign-off of support-assistant v4 waited 7 days (review target 5 days) "
        "and was escalated"
    )
    assert audit_words.event_sentence(denied) == (
        "Countersign (ci) asked the release gate about support-assistant v3: "
        "denied (scope_mismatch)"
    )
    facts = {f.label: f.value for f in audit_words.event_facts(escalated)}
    assert facts["Escalated to"] == "pam2" and facts["Review target (days)"] == "5"


def test_the_audit_page_shows_sentences_and_facts_not_model_labels(client, workflow, agent):
    workflow.approve(agent)
    client.force_login(workflow.reviewers["compliance"][0])
    html = client.get(reverse("audit-log")).content.decode()
    assert "iam1 approved the IAM sign-off of support-assistant v1" in html
    assert re.search(r"<dt>State</dt><dd>Pending → Approved</dd>", html)
    assert "approvals.approvalpackage" not in html and "signoffs.decision" not in html
    assert "{&#x27;" not in html  # no Python dict text


def test_the_agents_timeline_shows_sentences(client, workflow, agent, owner):
    workflow.approve(agent)
    client.force_login(owner)
    html = client.get(reverse("agent-detail", args=[agent.slug])).content.decode()
    assert "owner submitted support-assistant v1 for review" in html
    assert "pam1 approved the PAM sign-off of support-assistant v1" in html


def test_a_record_too_long_for_a_page_is_cut_saying_so(client, reviewers):
    findings = [{"agent": f"agent-{n}", "identifier": f"tool-{n}"} for n in range(20_000)]
    with transaction.atomic():
        audit_record(
            actor=Actor.system("tests"), action="drift.evaluated", data={"opened": findings}
        )
    client.force_login(reviewers["compliance"][0])
    html = client.get(reverse("audit-log")).content.decode()
    assert "(cut: " in html and "the audit export holds the whole event)" in html
    assert "tool-19999" not in html and len(html) < 100_000
    small = AuditEvent.objects.filter(action="drift.evaluated").get()
    small.data = {"opened": findings[:2]}
    assert audit_words.event_json(small).startswith('{\n  "data": {')
