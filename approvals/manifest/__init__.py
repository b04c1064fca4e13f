"""Read, validate, normalize, digest, risk-rate and diff agent manifests.

A manifest is an agent's declared runtime scope, kept as YAML or JSON in the
agent's own repository (see ``approvals/schema/manifest.schema.json``). The
release gate and the package services apply the same rules through these
functions; the package reads no model and no setting.

- ``load_manifest`` reads text or a mapping, validates it and returns the
  normalized manifest (``reading``, ``schema``, ``canonical``).
- ``normalize_manifest`` / ``canonical_json`` / ``normalized_digest`` give
  one stable representation and digest per scope, whatever the key order,
  list order or format; ``source_digest`` knows a manifest as it was sent.
- ``compute_risk_tier`` / ``risk_tier_reasons`` rate the scope (``risk``).
- ``diff_manifests`` classifies every change as expansion, narrowing or
  neutral (``diff``).
"""

from approvals.manifest.canonical import (
    canonical_json,
    load_manifest,
    normalize_manifest,
    normalized_digest,
    source_digest,
)
from approvals.manifest.diff import (
    EXPANSION,
    NARROWING,
    NEUTRAL,
    PACKAGE,
    Change,
    ScopeDiff,
    diff_manifests,
    diff_normalized,
)
from approvals.manifest.errors import ManifestError
from approvals.manifest.reading import MAX_DEPTH, MAX_VALUES
from approvals.manifest.risk import compute_risk_tier, risk_tier_reasons
from approvals.manifest.schema import manifest_schema
from approvals.manifest.scope import (
    ACCESS_ORDER,
    BOUNDARY_ORDER,
    CLASSIFICATION_ORDER,
    CREDENTIAL_METHOD_ORDER,
    DEPLOYMENT_ORDER,
    KEY_BY_KIND,
    KIND_BY_KEY,
    RISK_TIERS,
    SCOPE_KINDS,
)

__all__ = [
    "ACCESS_ORDER",
    "BOUNDARY_ORDER",
    "CLASSIFICATION_ORDER",
    "CREDENTIAL_METHOD_ORDER",
    "DEPLOYMENT_ORDER",
    "EXPANSION",
    "KEY_BY_KIND",
    "KIND_BY_KEY",
    "MAX_DEPTH",
    "MAX_VALUES",
    "NARROWING",
    "NEUTRAL",
    "PACKAGE",
    "RISK_TIERS",
    "SCOPE_KINDS",
    "Change",
    "ManifestError",
    "ScopeDiff",
    "canonical_json",
    "compute_risk_tier",
    "diff_manifests",
    "diff_normalized",
    "load_manifest",
    "manifest_schema",
    "normalize_manifest",
    "normalized_digest",
    "risk_tier_reasons",
    "source_digest",
]
