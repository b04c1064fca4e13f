"""The words of an agent's scope, each set written once.

A manifest, a package's scope entries, the drift evaluation, the observations
an agent's runtime reports and the filters of the agent list all use them.
Where a set is ranked (access levels, trust boundaries, classifications,
deployments, risk tiers, credential methods), its members go from the
narrowest scope or lowest risk up, and `ranks` gives each value its position.
Each member's label is the one way the pages show its value.
"""

from django.db import models


class ScopeKind(models.TextChoices):
    ACTION = "action", "Action"
    TOOL = "tool", "Tool"
    DATASET = "dataset", "Dataset"
    ENDPOINT = "endpoint", "Endpoint"
    EXTERNAL_API = "external_api", "External API"


class Access(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    EXECUTE = "execute", "Execute"
    ADMIN = "admin", "Admin"


class TrustBoundary(models.TextChoices):
    INTERNAL = "internal", "Internal"
    EXTERNAL = "external", "External"
    THIRD_PARTY = "third_party", "Third party"


class Classification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


class Deployment(models.TextChoices):
    INTERNAL_COPILOT = "internal_copilot", "Internal copilot"
    CUSTOMER_FACING = "customer_facing", "Customer-facing"
    REGULATED_WORKFLOW = "regulated_workflow", "Regulated workflow"


class RiskTier(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class CredentialMethod(models.TextChoices):
    """How the agent's credentials are issued, from the shortest-lived, best-contained
    credential to a secret that lives until rotated."""

    SPIFFE_SVID = "spiffe_svid", "SPIFFE SVID"
    VAULT_DYNAMIC = "vault_dynamic", "Vault dynamic secret"
    OAUTH_CLIENT_CREDENTIALS = "oauth_client_credentials", "OAuth client credentials"
    STATIC_SECRET = "static_secret", "Static secret"


class EnforcementPoint(models.TextChoices):
    GATEWAY = "gateway", "Gateway"
    SIDECAR = "sidecar", "Sidecar"
    IN_APP = "in_app", "In the application"
    NONE = "none", "None"


class PolicyEngine(models.TextChoices):
    CEDAR = "cedar", "Cedar"
    OPA = "opa", "Open Policy Agent"
    CUSTOM = "custom", "Custom"
    NONE = "none", "None"


class EnforcementMode(models.TextChoices):
    ENFORCE = "enforce", "Enforce"
    MONITOR = "monitor", "Monitor only"


def label_of(choices: type[models.TextChoices], value: str) -> str:
    """Return the label of `value` among `choices`; a value they do not know, as it is."""
    return dict(choices.choices).get(value, value)


def ranks(choices: type[models.TextChoices]) -> dict[str, int]:
    """Return the rank of each value of `choices`: its member's position, from 0."""
    return {member.value: position for position, member in enumerate(choices)}
