"""Who is who: the groups people belong to and the scopes machines' tokens carry.

Every app names groups and scopes through these members, so a group or scope
is spelled in one place. Groups are Django auth groups of these names.
"""

from django.db import models


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
    PACKAGES_WRITE = "packages:write", "Submit packages"
    OBSERVATIONS_WRITE = "observations:write", "Report observations"
    AUDIT_READ = "audit:read", "Read and export the audit trail"
    REVIEWS_WRITE = "reviews:write", "Decide sign-offs"
