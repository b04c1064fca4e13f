"""Approval packages (numbered versions of an agent's runtime scope), their entries, drift."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from agents.vocabulary import Access, Classification, RiskTier, ScopeKind, TrustBoundary
from approvals.manifest.risk import Enforcement
from signoffs.models import Dimension


class PackageState(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    REJECTED = "rejected", "Rejected"
    APPROVED = "approved", "Approved"
    SUPERSEDED = "superseded", "Superseded"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


ALLOWED_TRANSITIONS: dict[PackageState, frozenset[PackageState]] = {
    PackageState.DRAFT: frozenset({PackageState.IN_REVIEW}),
    PackageState.IN_REVIEW: frozenset(
        {
            PackageState.APPROVED,
            PackageState.CHANGES_REQUESTED,
            PackageState.REJECTED,
            PackageState.SUPERSEDED,
            # An agent retired during the review withdraws it.
            PackageState.REVOKED,
        }
    ),
    PackageState.APPROVED: frozenset(
        {PackageState.SUPERSEDED, PackageState.EXPIRED, PackageState.REVOKED}
    ),
    PackageState.CHANGES_REQUESTED: frozenset(),
    PackageState.REJECTED: frozenset(),
    PackageState.SUPERSEDED: frozenset(),
    PackageState.EXPIRED: frozenset(),
    PackageState.REVOKED: frozenset(),
}


class ApprovalPackage(models.Model):
    """One version of an agent's requested runtime scope.

    `manifest` holds the normalized manifest (every field the package carries);
    `ScopeEntry` rows mirror its scope for queries. Both are written only by
    services and never change once the package leaves draft.
    """

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="packages")
    version = models.PositiveIntegerField()
    state = models.CharField(
        max_length=32, choices=PackageState.choices, default=PackageState.DRAFT, db_index=True
    )
    manifest = models.JSONField()
    digest = models.CharField(max_length=64, db_index=True)
    # The digest of the manifest as it was sent (manifest.source_digest): its
    # text, or the JSON object's canonical form. The gate knows that manifest
    # again without reading it.
    source_digest = models.CharField(max_length=64, blank=True, default="", db_default="")
    risk_tier = models.CharField(max_length=16, choices=RiskTier.choices)
    # The runtime fact the tier was computed with (approvals.policy.enforcement_of): whether
    # the decision point answered the agent's enforcement point in the last N days.
    # Null on versions rated before the fact was an input.
    enforcement_proven = models.BooleanField(null=True, blank=True, editable=False)
    enforcement_days = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    is_recertification = models.BooleanField(default=False)
    base = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The approved version this one was diffed against at submission.",
    )
    diff = models.JSONField(default=dict, blank=True)
    carried_over = models.BooleanField(default=False)
    # What the review of this version covers, fixed at submission (approvals.rereview):
    # which dimensions re-opened or carried over and why, and the review depth. What it
    # carried over re-opens if that approval lapses during the review.
    review_plan = models.JSONField(default=dict, blank=True, db_default={})
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    # Owners never decide their agent's package, so who owned it during the review
    # is kept here: stepping out of the owners does not make one a reviewer.
    owners_in_review = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        help_text="Everyone who owned the agent while this version was in review: its owners "
        "at submission and any added since.",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    state_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["agent", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "version"], name="one_package_per_version"),
            models.UniqueConstraint(
                fields=["agent"],
                condition=models.Q(state=PackageState.APPROVED),
                name="one_approved_package_per_agent",
            ),
            # An approval is in force only up to its expiry, so one without an expiry
            # could be neither allowed nor denied by the gate's rule.
            models.CheckConstraint(
                condition=~models.Q(state=PackageState.APPROVED)
                | models.Q(expires_at__isnull=False),
                name="approved_package_expires",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "expires_at"]),
            # The packages page and list, newest first: a page is walked, never sorted.
            models.Index(fields=["-created_at", "-id"]),
        ]

    def __str__(self):
        return f"{self.agent_id and self.agent.slug} v{self.version}"

    def get_absolute_url(self):
        return reverse("package-detail", kwargs={"slug": self.agent.slug, "version": self.version})

    @property
    def is_editable(self) -> bool:
        return self.state == PackageState.DRAFT

    @property
    def has_lapsed(self) -> bool:
        """Whether an approval is past its expiry but not yet marked expired by the expiry
        job: the gate denies it from the moment it lapses, so nothing else leans on it."""
        return self.state == PackageState.APPROVED and self.expires_at <= timezone.now()

    @property
    def state_shown(self) -> str:
        """The state pages show: a lapsed approval reads as expired before the job marks it."""
        return PackageState.EXPIRED if self.has_lapsed else self.state

    @property
    def is_in_force(self) -> bool:
        """Whether the approval holds now, as the gate has it: approved and not lapsed."""
        return self.state_shown == PackageState.APPROVED

    @property
    def carries_from_lapsed(self) -> bool:
        """Whether this review in progress rests on an approval no longer in force, whatever
        ended it, the expiry job or not: nothing it carried over from that approval stands
        (`approvals.rereview.carried_signoffs_reopen`), nor counts against who decides it."""
        return (
            self.state == PackageState.IN_REVIEW
            and self.base_id is not None
            and self.base.state_shown != PackageState.APPROVED
        )

    @property
    def enforcement(self) -> Enforcement | None:
        """Return the runtime fact the tier was computed with, or None when it had none."""
        if self.enforcement_proven is None or self.enforcement_days is None:
            return None
        return Enforcement(self.enforcement_proven, self.enforcement_days)


class ScopeEntry(models.Model):
    package = models.ForeignKey(ApprovalPackage, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=16, choices=ScopeKind.choices)
    identifier = models.CharField(max_length=2048)
    access = models.CharField(max_length=16, choices=Access.choices)
    classification = models.CharField(max_length=16, default=Classification.INTERNAL)
    trust_boundary = models.CharField(max_length=16, default=TrustBoundary.INTERNAL)
    privileged = models.BooleanField(default=False)
    constraints = models.JSONField(default=dict, blank=True)
    justification = models.TextField(blank=True)

    class Meta:
        ordering = ["package", "kind", "identifier"]
        verbose_name_plural = "scope entries"
        constraints = [
            models.UniqueConstraint(
                fields=["package", "kind", "identifier"], name="one_entry_per_identifier"
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.identifier} ({self.access})"


# The longest comment a person may write, and the most people one comment may mention.
COMMENT_MAX_LENGTH = 4000
COMMENT_MAX_MENTIONS = 10


class Comment(models.Model):
    """A remark on a package version, on one of its scope entries, or on a reviewer's decision.

    Comments are append-only: nothing edits or deletes one, and each is recorded
    whole in the audit trail. A thread is a first comment (or a decision) and the
    replies to it; a reply belongs to its thread's entry or decision.
    """

    package = models.ForeignKey(ApprovalPackage, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    # The scope entry the comment is about, by kind and identifier: a draft's entries are
    # rewritten on each save, and the comment outlives a removed entry.
    entry_kind = models.CharField(max_length=16, choices=ScopeKind.choices, blank=True)
    entry_identifier = models.CharField(max_length=2048, blank=True)
    # The first comment of the thread this one replies to.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    # The decision whose comment this one answers (a decision's thread has no first comment).
    decision = models.ForeignKey(
        "signoffs.Decision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["package", "created_at", "pk"]
        indexes = [models.Index(fields=["package", "created_at"])]

    def __str__(self):
        return f"{self.package} comment {self.pk}"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class FindingReason(models.TextChoices):
    """Why a use is a finding, as the drift run (``approvals.drift``) and the decision point
    record it: a scope kind's use outside the scope, more access than approved, another
    model or prompt, or a claim beyond an approved entry."""

    UNAPPROVED_ACTION = "unapproved_action", "Not in the approved scope"
    UNAPPROVED_TOOL = "unapproved_tool", "Not in the approved scope"
    UNAPPROVED_DATASET = "unapproved_dataset", "Not in the approved scope"
    UNAPPROVED_ENDPOINT = "unapproved_endpoint", "Not in the approved scope"
    UNAPPROVED_EXTERNAL_API = "unapproved_external_api", "Not in the approved scope"
    HIGHER_ACCESS = "higher_access", "More access than approved"
    MODEL_CHANGED = "model_changed", "Not the approved model"
    PROMPT_CHANGED = "prompt_changed", "Not the approved prompt"
    CLAIM_EXCEEDED = "claim_exceeded", "Beyond what the approved entry allows"


# A live finding is still to be dealt with; a critical live one makes the gate deny.
LIVE_FINDING_STATUSES = (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED)
# The longest note or resolution a person may write on a finding.
FINDING_TEXT_MAX_LENGTH = 2000


class DriftFinding(models.Model):
    """A use observed or declared outside the approved scope."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="drift_findings")
    package = models.ForeignKey(
        ApprovalPackage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16)
    identifier = models.CharField(max_length=2048)
    access = models.CharField(max_length=16, blank=True)
    reason = models.CharField(max_length=64)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    status = models.CharField(
        max_length=16, choices=FindingStatus.choices, default=FindingStatus.OPEN, db_index=True
    )
    count = models.BigIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "kind", "identifier", "access"],
                condition=models.Q(status__in=list(LIVE_FINDING_STATUSES)),
                name="one_live_finding_per_use",
            )
        ]
        indexes = [
            models.Index(fields=["agent", "status", "severity"]),
            # The dashboard's open findings, last seen first: walked, never sorted.
            models.Index(fields=["status", "-last_seen"]),
        ]

    def __str__(self):
        return f"{self.agent_id}: {self.kind} {self.identifier} ({self.severity})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_FINDING_STATUSES

    @property
    def blocks_gate(self) -> bool:
        """Whether every gate check of the agent denies while this finding stands."""
        return self.is_live and self.severity == Severity.CRITICAL


class EmergencyState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    ACTIVE = "active", "Active"
    CONCLUDED = "concluded", "Concluded by the full review"
    EXPIRED = "expired", "Expired"
    ENDED = "ended", "Ended"


EMERGENCY_TRANSITIONS: dict[EmergencyState, frozenset[EmergencyState]] = {
    EmergencyState.REQUESTED: frozenset({EmergencyState.ACTIVE, EmergencyState.ENDED}),
    EmergencyState.ACTIVE: frozenset(
        {EmergencyState.CONCLUDED, EmergencyState.EXPIRED, EmergencyState.ENDED}
    ),
    EmergencyState.CONCLUDED: frozenset(),
    EmergencyState.EXPIRED: frozenset(),
    EmergencyState.ENDED: frozenset(),
}
# The emergencies the gate reads: granted ones the full review has not concluded.
GRANTED_EMERGENCY_STATES = (EmergencyState.ACTIVE, EmergencyState.EXPIRED, EmergencyState.ENDED)
# Who grants an emergency approval: one approval from each of these dimensions.
EMERGENCY_DIMENSIONS = (Dimension.SECURITY, Dimension.PAM)


class EmergencyApproval(models.Model):
    """An owner's request to ship a package before its full review ends, and its time box.

    Once a security and a PAM reviewer approve it, the gate allows the package
    until `ends_at`; the full review runs meanwhile. If that review has not
    approved the package by then, the gate denies it.
    """

    package = models.OneToOneField(
        ApprovalPackage, on_delete=models.PROTECT, related_name="emergency"
    )
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="emergencies")
    state = models.CharField(
        max_length=16,
        choices=EmergencyState.choices,
        default=EmergencyState.REQUESTED,
        db_index=True,
    )
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    security_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    security_approved_at = models.DateTimeField(null=True, blank=True)
    pam_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pam_approved_at = models.DateTimeField(null=True, blank=True)
    granted_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    state_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["state", "ends_at"])]

    def __str__(self):
        return f"emergency {self.package}"

    @property
    def is_open(self) -> bool:
        """Whether the time box is open now (the gate allows the package)."""
        return self.state == EmergencyState.ACTIVE and self.ends_at > timezone.now()

    @property
    def state_shown(self) -> str:
        """The state pages show: a time box past its end reads as expired before the
        emergencies job marks it, as the gate denies the package from that moment."""
        if self.state == EmergencyState.ACTIVE and not self.is_open:
            return EmergencyState.EXPIRED
        return self.state

    def approver(self, dimension: str):
        return getattr(self, f"{dimension}_approver")


class JobLease(models.Model):
    """The lease a job's run holds while it runs, so that one run of the job works at a
    time (approvals.leases)."""

    job = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=32, blank=True)
    # The lease is free from this moment (or when empty); its holder renews it as it goes.
    held_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.job
