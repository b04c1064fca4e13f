"""A manifest's scope kinds, its fields' vocabularies and the ranks of their values, from
the agents' vocabulary.

A rank orders a field's values from the narrowest scope (or lowest risk) up:
a move up it widens the scope. The manifest schema's enums list the same
values (a test holds them together). A vocabulary's labels are how every page
and every diff's words show a field's value.
"""

from collections.abc import Iterator

from django.db.models import TextChoices

from agents.vocabulary import (
    Access,
    Classification,
    CredentialMethod,
    Deployment,
    EnforcementMode,
    EnforcementPoint,
    PolicyEngine,
    RiskTier,
    ScopeKind,
    TrustBoundary,
    ranks,
)

# A scope's key in a manifest is its kind's plural (``external_apis``: ``external_api``).
KIND_BY_KEY = {f"{kind}s": kind.value for kind in ScopeKind}
KEY_BY_KIND = {kind: key for key, kind in KIND_BY_KEY.items()}
SCOPE_KINDS = tuple(KIND_BY_KEY)
ACCESS_ORDER = ranks(Access)
BOUNDARY_ORDER = ranks(TrustBoundary)
CLASSIFICATION_ORDER = ranks(Classification)
DEPLOYMENT_ORDER = ranks(Deployment)
CREDENTIAL_METHOD_ORDER = ranks(CredentialMethod)
# How a message names a kind: "tool", "external API".
KIND_LABELS = {kind.value: kind.label[0].lower() + kind.label[1:] for kind in ScopeKind}
# The vocabulary of each field whose values are one: a manifest's fields by path, a scope
# entry's fields by name (the same for every kind).
FIELD_VOCABULARIES: dict[str, type[TextChoices]] = {
    "deployment": Deployment,
    "risk_tier": RiskTier,
    "credentials.method": CredentialMethod,
    "enforcement.point": EnforcementPoint,
    "enforcement.engine": PolicyEngine,
    "enforcement.mode": EnforcementMode,
}
ENTRY_VOCABULARIES: dict[str, type[TextChoices]] = {
    "access": Access,
    "trust_boundary": TrustBoundary,
    "classification": Classification,
}


def scope_entries(doc: dict) -> Iterator[tuple[str, dict]]:
    """Yield (kind, entry) for every scope entry of a normalized manifest."""
    for key in SCOPE_KINDS:
        for entry in doc["scope"][key]:
            yield KIND_BY_KEY[key], entry
