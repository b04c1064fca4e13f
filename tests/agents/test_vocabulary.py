"""What a runtime may report is the scope's kinds plus the model and prompt it runs on."""

from agents.models import ObservationKind
from agents.vocabulary import ScopeKind


def test_every_scope_kind_is_an_observation_kind_with_the_same_label():
    observed = dict(ObservationKind.choices)
    assert {kind: observed.get(kind) for kind in ScopeKind.values} == dict(ScopeKind.choices)
    assert set(observed) - set(ScopeKind.values) == {"model", "prompt"}
