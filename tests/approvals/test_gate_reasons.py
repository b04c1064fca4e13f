"""The reason codes of the gate and the decision point are spelled once, in `GateReason`."""

import ast
from pathlib import Path

from approvals.api.serializers import GATE_REASONS, GateReasonSerializer
from approvals.gate_vocabulary import GateReason
from runtime.api.views import REASONS
from runtime.decision import OWN_REASONS, STANDING_REASONS

ROOT = Path(__file__).resolve().parents[2]
# The modules that give reasons: the gate and its endpoint, the decision point and its endpoint.
EMITTERS = [
    "approvals/gate.py",
    "approvals/api/views.py",
    "runtime/decision.py",
    "runtime/api/views.py",
]


def test_no_module_that_gives_reasons_spells_a_code_again():
    codes = set(GateReason.values)
    spelled = []
    for name in EMITTERS:
        spelled += [
            f"{name}:{node.lineno} {node.value}"
            for node in ast.walk(ast.parse((ROOT / name).read_text()))
            if isinstance(node, ast.Constant) and node.value in codes
        ]
    assert not spelled


def test_the_documented_codes_are_the_gates():
    assert GATE_REASONS == dict(GateReason.choices)
    assert list(GateReasonSerializer().fields["code"].choices) == GateReason.values
    assert {*STANDING_REASONS, *OWN_REASONS} <= set(GateReason)
    for code in [*STANDING_REASONS, *OWN_REASONS]:
        assert f"`{code.value}`: " in REASONS
