"""Read, validate, normalize, digest, risk-rate and diff agent manifests.

A manifest is an agent's declared runtime scope, kept as YAML or JSON in the
agent's own repository (see ``approvals/schema/manifest.schema.json``). The
release gate and the package services apply the same rules through these
functions; the package reads no model and no setting.

- ``load_manifest`` reads text or a mapping, validates it and returns the
  normalized manifest (``reading``, ``schema``, ``canonical``).
- ``normalize_manifest`` / ``canonical_json`` / ``text_digest`` give one
  stable representation and digest per scope, whatever the key order, list
  order or format; ``source_digest`` knows a manifest as it was sent.
- ``compute_risk_tier`` / ``risk_tier_reasons`` rate the scope (``risk``).
- ``diff_manifests`` classifies every change as a scope expansion or
  narrowing, a commitment change or narrative, by each field's change class
  in the schema (``FIELD_CLASSES``, ``diff``).
- ``field_named`` / ``fields_named`` name fields as a reason does, by each
  field's title in the schema (``FIELD_TITLES``): "the rollback plan
  (rollback.plan)"; ``field_title`` gives a field's title ("rollback plan"), and
  ``change_words`` says a diff's change with it and each value in words
  ("tool crm: access Read → Write", ``words``), by the fields' vocabularies
  (``FIELD_VOCABULARIES``, ``scope``).
"""

from approvals.manifest.canonical import (
    canonical_json,
    load_manifest,
    normalize_manifest,
    source_digest,
    text_digest,
)
from approvals.manifest.diff import (
    CLASSIFICATION_LABELS,
    DIFF_GROUPS,
    EXPANSION,
    NARROWING,
    NEEDS_REVIEW,
    PACKAGE,
    WHOLE_ENTRY,
    Change,
    ScopeDiff,
    change_path,
    diff_manifests,
    diff_normalized,
    widens,
)
from approvals.manifest.errors import ManifestError
from approvals.manifest.reading import MAX_DEPTH, MAX_VALUES
from approvals.manifest.risk import Enforcement, compute_risk_tier, risk_tier_reasons
from approvals.manifest.schema import (
    CHANGE_CLASS,
    CHANGE_CLASSES,
    COMMITMENT,
    FIELD_CLASSES,
    FIELD_TITLES,
    ITEM_TITLES,
    NARRATIVE,
    SCOPE,
    TITLES,
    entry_field_title,
    field_bounds,
    field_named,
    field_title,
    fields_named,
    latest_test_date,
    manifest_schema,
)
from approvals.manifest.scope import (
    ACCESS_ORDER,
    BOUNDARY_ORDER,
    CLASSIFICATION_ORDER,
    CREDENTIAL_METHOD_ORDER,
    DEPLOYMENT_ORDER,
    ENTRY_VOCABULARIES,
    FIELD_VOCABULARIES,
    KEY_BY_KIND,
    KIND_BY_KEY,
    KIND_LABELS,
    SCOPE_KINDS,
)
from approvals.manifest.words import (
    change_named,
    change_words,
    entry_field_words,
    field_words,
    value_words,
)

__all__ = [
    "ACCESS_ORDER",
    "BOUNDARY_ORDER",
    "CHANGE_CLASS",
    "CHANGE_CLASSES",
    "CLASSIFICATION_LABELS",
    "CLASSIFICATION_ORDER",
    "COMMITMENT",
    "DIFF_GROUPS",
    "CREDENTIAL_METHOD_ORDER",
    "DEPLOYMENT_ORDER",
    "ENTRY_VOCABULARIES",
    "EXPANSION",
    "FIELD_CLASSES",
    "FIELD_TITLES",
    "FIELD_VOCABULARIES",
    "ITEM_TITLES",
    "KEY_BY_KIND",
    "KIND_BY_KEY",
    "KIND_LABELS",
    "MAX_DEPTH",
    "MAX_VALUES",
    "NARRATIVE",
    "NARROWING",
    "NEEDS_REVIEW",
    "PACKAGE",
    "WHOLE_ENTRY",
    "SCOPE",
    "SCOPE_KINDS",
    "TITLES",
    "Change",
    "Enforcement",
    "ManifestError",
    "ScopeDiff",
    "change_named",
    "change_path",
    "change_words",
    "canonical_json",
    "compute_risk_tier",
    "diff_manifests",
    "diff_normalized",
    "entry_field_title",
    "entry_field_words",
    "field_bounds",
    "field_named",
    "field_title",
    "field_words",
    "fields_named",
    "latest_test_date",
    "load_manifest",
    "manifest_schema",
    "normalize_manifest",
    "risk_tier_reasons",
    "source_digest",
    "text_digest",
    "value_words",
    "widens",
]
