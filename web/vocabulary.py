"""The words the pages show for stored values: each vocabulary's labels and a manifest's fields.

A value's human label is defined once, as the label of its member in the
vocabulary's ``TextChoices``, next to the vocabulary itself. This module only
says which vocabulary a value belongs to, so that templates (through the
``label`` filter of ``web.templatetags.vocabulary``) and the review page's
change list show every value in the same words; a manifest field's vocabulary
is the manifest's (``FIELD_VOCABULARIES``), which a diff's words use too.
"""

import json
from typing import Any

from django.db.models import TextChoices
from django.utils.text import capfirst

from agents.models import AgentStatus, ObservationKind
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
)
from approvals import manifest as manifests
from approvals.models import (
    EmergencyState,
    FindingReason,
    FindingStatus,
    PackageState,
    Severity,
)
from audit.actors import ActorType
from config.roles import Group
from signoffs.models import Dimension, SignOffState, Verdict
from tokens.models import TokenState
from web.forms.packages import PACKAGE_SECTIONS, editor_label

VOCABULARIES: dict[str, type[TextChoices]] = {
    "access": Access,
    "actor_type": ActorType,
    "agent_status": AgentStatus,
    "classification": Classification,
    "credential_method": CredentialMethod,
    "deployment": Deployment,
    "dimension": Dimension,
    "emergency_state": EmergencyState,
    "enforcement_mode": EnforcementMode,
    "enforcement_point": EnforcementPoint,
    "finding_reason": FindingReason,
    "finding_status": FindingStatus,
    "group": Group,
    "observation_kind": ObservationKind,
    "package_state": PackageState,
    "policy_engine": PolicyEngine,
    "risk_tier": RiskTier,
    "scope_kind": ScopeKind,
    "severity": Severity,
    "signoff_state": SignOffState,
    "token_state": TokenState,
    "trust_boundary": TrustBoundary,
    "verdict": Verdict,
}
_LABELS = {name: dict(choices.choices) for name, choices in VOCABULARIES.items()}


def label(vocabulary: str, value: Any) -> str:
    """Return the human label of `value` in `vocabulary`; an empty value is empty.

    A value the vocabulary does not know is shown as it is: the manifest's
    schema and the models' choices keep such values out.
    """
    if vocabulary not in _LABELS:
        raise ValueError(f"No vocabulary named {vocabulary!r}: one of {sorted(_LABELS)}.")
    if value is None or value == "":
        return ""
    return _LABELS[vocabulary].get(str(value), str(value))


# The section of the editor a manifest field is in, as the editor shows it. A field's name
# is its label in the editor, which is its title in the manifest schema (``editor_label``).
FIELD_SECTIONS = {path: title for title, _, fields in PACKAGE_SECTIONS for path in fields}


def field_label(path: str) -> str:
    """Return a manifest field's name in words, as the editor labels it (``Maximum
    credential TTL (seconds)``); one item of a list by its items' title (``Log destination
    siem``)."""
    return editor_label(path) if path in manifests.TITLES else capfirst(manifests.field_words(path))


def field_section(path: str) -> str:
    """Return the title of the editor's section a manifest field (or an item of it) is in
    (``Credentials``)."""
    return FIELD_SECTIONS.get(path.partition("[")[0], "About")


def entry_field_label(field: str) -> str:
    """Return a scope entry's field name in words, as the editor labels it; a constraint
    by its key (``Constraint max_calls``)."""
    return capfirst(manifests.entry_field_words(field))


def value_text(value: Any, vocabulary: type[TextChoices] | None = None) -> str:
    """Return a manifest value in words: yes/no or its label as a diff's words show it
    (``value_words``), a list or object spelled out."""
    if value is None or value == "" or value == [] or value == {}:
        return "not set"
    if isinstance(value, bool) or vocabulary is not None:
        return str(manifests.value_words(value, vocabulary))
    if isinstance(value, list):
        return ", ".join(value_text(item) for item in value)
    if isinstance(value, dict):
        # A flag in an object reads yes or no, as the diff's words say it.
        return ", ".join(
            f"{key} = {manifests.value_words(item) if isinstance(item, bool) else json.dumps(item)}"
            for key, item in value.items()
        )
    return str(value)


def field_value_text(path: str, value: Any) -> str:
    """Return the value of a manifest field (by path) in words."""
    return value_text(value, manifests.FIELD_VOCABULARIES.get(path))


def entry_value_text(field: str, value: Any) -> str:
    """Return the value of a scope entry's field in words."""
    if field.startswith("constraints.") and value is None:
        return "no limit"
    return value_text(value, manifests.ENTRY_VOCABULARIES.get(field))
