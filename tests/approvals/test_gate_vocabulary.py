"""The gate's words (its answers and its reason codes) are spelled once, in `gate_vocabulary`."""

import ast
from pathlib import Path

from approvals.api.serializers import GATE_REASONS, GateReasonSerializer, GateResultSerializer
from approvals.gate_vocabulary import GateDecision, GateReason
from runtime.api.serializers import PolicyBundleSerializer
from runtime.api.views import REASONS
from runtime.decision import OWN_REASONS, STANDING_REASONS
from web.audit_words import VALUE_WORDS

ROOT = Path(__file__).resolve().parents[2]
# The modules that give reasons: the gate and its endpoint, the decision point and its endpoint.
REASON_GIVERS = [
    "approvals/gate.py",
    "approvals/api/views.py",
    "runtime/decision.py",
    "runtime/api/views.py",
]
# The modules that give, count, document or word an answer.
ANSWER_USERS = [
    "approvals/gate.py",
    "approvals/api/serializers.py",
    "runtime/cedar.py",
    "runtime/usage.py",
    "runtime/api/serializers.py",
    "web/audit_words.py",
]


def spelled(modules: list[str], words: list[str]) -> list[str]:
    """Return where the modules write one of the words as a string literal."""
    return [
        f"{name}:{node.lineno} {node.value}"
        for name in modules
        for node in ast.walk(ast.parse((ROOT / name).read_text()))
        if isinstance(node, ast.Constant) and node.value in words
    ]


def test_no_module_that_gives_reasons_spells_a_code_again():
    assert not spelled(REASON_GIVERS, GateReason.values)


def test_the_documented_codes_are_the_gates():
    assert GATE_REASONS == dict(GateReason.choices)
    assert list(GateReasonSerializer().fields["code"].choices) == GateReason.values
    assert {*STANDING_REASONS, *OWN_REASONS} <= set(GateReason)
    for code in [*STANDING_REASONS, *OWN_REASONS]:
        assert f"`{code.value}`: " in REASONS


def test_no_module_that_uses_an_answer_spells_it_again():
    assert not spelled(ANSWER_USERS, GateDecision.values)


def test_the_documented_and_worded_answers_are_the_gates():
    for serializer in (GateResultSerializer(), PolicyBundleSerializer()):
        assert list(serializer.fields["decision"].choices) == GateDecision.values
    assert VALUE_WORDS["decision"] == dict(GateDecision.choices)
