"""The words of an agent's scope, each set written once, narrowest or lowest first.

A manifest, a package's scope entries, the drift evaluation, the observations
an agent's runtime reports and the filters of the agent list all use them.
The order of the members is their rank (`ranks`): moving up it widens a scope
or raises a risk.
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


def ranks(choices: type[models.TextChoices]) -> dict[str, int]:
    """Return the rank of each value of `choices`: its member's position, from 0."""
    return {member.value: position for position, member in enumerate(choices)}
