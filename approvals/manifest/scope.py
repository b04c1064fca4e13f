"""A manifest's scope kinds and the ranks of its fields' values, from the agents' vocabulary.

A rank orders a field's values from the narrowest scope (or lowest risk) up:
a move up it widens the scope. The manifest schema's enums list the same
values (a test holds them together).
"""

from collections.abc import Iterator

from agents.vocabulary import (
    Access,
    Classification,
    CredentialMethod,
    Deployment,
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


def scope_entries(doc: dict) -> Iterator[tuple[str, dict]]:
    """Yield (kind, entry) for every scope entry of a normalized manifest."""
    for key in SCOPE_KINDS:
        for entry in doc["scope"][key]:
            yield KIND_BY_KEY[key], entry
