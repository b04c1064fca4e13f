"""Who is who: the groups people belong to and the scopes machines' tokens carry.

Every app names groups and scopes through these members, so a group or scope
is spelled in one place. Groups are Django auth groups of these names.
"""

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Exists, OuterRef


class Group(models.TextChoices):
    PRODUCT_OWNER = "product-owner", "Product owners"
    IAM = "iam", "IAM reviewers"
    PAM = "pam", "PAM reviewers"
    SECURITY = "security", "Security reviewers"
    COMPLIANCE = "compliance", "Compliance reviewers"
    COMPLIANCE_OFFICER = "compliance-officer", "Compliance officers"


# One reviewer group per sign-off dimension, named as the dimension (signoffs.Dimension).
REVIEWER_GROUPS = (Group.IAM, Group.PAM, Group.SECURITY, Group.COMPLIANCE)
# Reviewers and compliance officers see every agent; product owners see their own.
SEE_EVERY_AGENT_GROUPS = (*REVIEWER_GROUPS, Group.COMPLIANCE_OFFICER)
# Staff and these groups read, export and verify the audit trail.
AUDIT_READER_GROUPS = (Group.COMPLIANCE, Group.COMPLIANCE_OFFICER)
# Members of these groups register agents.
REGISTER_GROUPS = (Group.PRODUCT_OWNER,)


class Scope(models.TextChoices):
    GATE_CHECK = "gate:check", "Release gate checks"
    AGENTS_READ = "agents:read", "Read agents, packages and findings"
    PACKAGES_WRITE = "packages:write", "Submit packages"
    OBSERVATIONS_WRITE = "observations:write", "Report observations"
    AUDIT_READ = "audit:read", "Read and export the audit trail"
    REVIEWS_WRITE = "reviews:write", "Decide sign-offs"
    COMMENTS_WRITE = "comments:write", "Comment on packages"
    DECISIONS_EVALUATE = "decisions:evaluate", "Ask runtime decisions and read policy bundles"


# Who may hold each scope, by group (staff hold every scope): a token never carries
# more than its user may do in the browser. None: every user, because what the
# scope reaches is the agents its user may see (and its token is bound to).
SCOPE_GROUPS: dict[str, tuple | None] = {
    Scope.GATE_CHECK: None,
    Scope.AGENTS_READ: None,
    Scope.PACKAGES_WRITE: REGISTER_GROUPS,
    Scope.OBSERVATIONS_WRITE: REGISTER_GROUPS,
    Scope.AUDIT_READ: AUDIT_READER_GROUPS,
    Scope.REVIEWS_WRITE: REVIEWER_GROUPS,
    Scope.COMMENTS_WRITE: None,
    Scope.DECISIONS_EVALUATE: None,
}


def scopes_granted(user) -> list[str]:
    """Return the scopes the user's role lets a token of theirs carry, in Scope order."""
    if user is None or not user.is_active:
        return []
    if user.is_staff:
        return list(Scope.values)
    names = set(user.groups.values_list("name", flat=True))
    return [
        scope
        for scope in Scope.values
        if SCOPE_GROUPS[scope] is None or names.intersection(SCOPE_GROUPS[scope])
    ]


def scope_open(scope: str) -> bool:
    """Return whether every active user's token may use `scope`, whatever their groups."""
    return scope in SCOPE_GROUPS and SCOPE_GROUPS[scope] is None


def scope_groups_held(scope: str) -> Exists | None:
    """Return whether the user of the outer query (`OuterRef("pk")`) is in a group granting
    `scope`, as a subquery to filter or annotate users with; None when every active user
    holds the scope.

    A token's write reads it with its user's flags, in the statement that reads them
    (tokens.authentication.token_confirm), so the re-check costs no query of its own.
    """
    groups = SCOPE_GROUPS[scope]
    if groups is None:
        return None
    memberships = get_user_model().groups.through.objects
    return Exists(memberships.filter(user_id=OuterRef("pk"), group__name__in=groups))


def scope_granted(user, scope: str) -> bool:
    """Return whether the user's role lets a token of theirs use `scope` (checked on each use)."""
    if scope not in SCOPE_GROUPS or user is None or not user.is_active:
        return False
    held = scope_groups_held(scope)
    if held is None or user.is_staff:
        return True
    return get_user_model().objects.filter(pk=user.pk).filter(held).exists()
