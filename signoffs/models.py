"""Sign-off dimensions, their versioned checklists, sign-offs and decisions."""

from django.conf import settings
from django.db import models

from audit.actors import AuthMethod


class Dimension(models.TextChoices):
    IAM = "iam", "IAM"
    PAM = "pam", "PAM"
    SECURITY = "security", "Security"
    COMPLIANCE = "compliance", "Compliance"


class Checklist(models.Model):
    """One version of a dimension's checklist; the newest active one is used for new reviews."""

    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["dimension", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["dimension", "version"], name="one_checklist_version")
        ]

    def __str__(self):
        return f"{self.get_dimension_display()} checklist v{self.version}"


class ChecklistItem(models.Model):
    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(max_length=32)
    text = models.TextField()
    help_text = models.TextField(blank=True)
    controls = models.JSONField(default=list, help_text="Framework control identifiers cited.")
    required = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=0)
    # The manifest field paths the item reads (``scope.tools[].access``), expanded and
    # validated when the checklist is loaded: a change to one re-opens the item's dimension.
    covers = models.JSONField(default=list, blank=True, db_default=[])

    class Meta:
        ordering = ["checklist", "order", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["checklist", "code"], name="one_item_code_per_checklist"
            )
        ]

    def __str__(self):
        return self.code


class SignOffState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    REJECTED = "rejected", "Rejected"
    CARRIED_OVER = "carried_over", "Carried over"


class SignOff(models.Model):
    """One dimension's sign-off on one package version; its state derives from decisions."""

    package = models.ForeignKey(
        "approvals.ApprovalPackage", on_delete=models.CASCADE, related_name="signoffs"
    )
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    checklist = models.ForeignKey(Checklist, on_delete=models.PROTECT)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(
        max_length=32, choices=SignOffState.choices, default=SignOffState.PENDING
    )
    carried_over_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when staff reassign the pending sign-off: only this reviewer (and their delegate)
    # decides it, in place of the agent's assigned reviewers.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="signoffs_reassigned",
    )
    # The item codes an approval must tick, fixed at submission by the review depth of
    # the package's tier; None: the items the checklist itself marks required.
    required_items = models.JSONField(null=True, blank=True)
    # Why this sign-off is open or carried over in this version, in words.
    review_reason = models.TextField(blank=True, default="", db_default="")
    # When a suspension or a lapsed approval re-opened the sign-off: its review target
    # counts from here (`signoffs.sla`), as its reviewers were asked to decide again then.
    # None: it counts from the package's submission.
    reopened_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["package", "dimension"]
        constraints = [
            models.UniqueConstraint(
                fields=["package", "dimension"], name="one_signoff_per_dimension"
            )
        ]

    def __str__(self):
        return f"{self.package} {self.dimension}: {self.state}"

    def item_required(self, item: ChecklistItem) -> bool:
        """Return whether approving this sign-off needs the item ticked."""
        if self.required_items is None:
            return item.required
        return item.code in self.required_items


class Verdict(models.TextChoices):
    """A reviewer's decision; its label says what was decided ("Approved by ...")."""

    APPROVE = "approve", "Approved"
    REQUEST_CHANGES = "request_changes", "Changes requested"
    REJECT = "reject", "Rejected"


class Footing(models.TextChoices):
    """On what footing a reviewer decides a sign-off (recorded as the decision's `basis`)."""

    GROUP = "group", "As a member of the reviewer group"
    ASSIGNED = "assigned", "As an assigned reviewer"
    DELEGATE = "delegate", "As the delegate of an absent reviewer"
    FALLBACK = "fallback", "As fallback reviewer of an overdue sign-off"


def standing_condition(through: str = "") -> models.Q:
    """Return the condition a decision counts on (no suspension set it aside), on the decision
    itself or, `through` a relation ("decisions__"), for a filter or an aggregate's filter."""
    return models.Q(**{f"{through}set_aside_at__isnull": True})


class DecisionQuerySet(models.QuerySet):
    def standing(self):
        """Return the decisions that count: those no suspension set aside."""
        return self.filter(standing_condition())


class Decision(models.Model):
    signoff = models.ForeignKey(SignOff, on_delete=models.CASCADE, related_name="decisions")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    comment = models.TextField(blank=True)
    answers = models.JSONField(default=dict, help_text="Checklist item code -> true/false.")
    # The absent reviewer whose delegate made this decision.
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decisions_delegated",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # How the reviewer proved who they were for this decision (audit.actors.AuthMethod),
    # when, and the provider's assurance level and methods when it sent them.
    auth_method = models.CharField(max_length=16, choices=AuthMethod.choices, blank=True)
    auth_time = models.DateTimeField(null=True, blank=True)
    auth_acr = models.CharField(max_length=200, blank=True)
    auth_amr = models.JSONField(default=list, blank=True)
    # When a suspension of the agent set the decision aside: it stays in the history but
    # counts no more, as the kill switch is lifted only by decisions made after it.
    set_aside_at = models.DateTimeField(null=True, blank=True)

    objects = DecisionQuerySet.as_manager()

    class Meta:
        ordering = ["signoff", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["signoff", "reviewer"],
                condition=standing_condition(),
                name="one_decision_per_reviewer",
            )
        ]
        indexes = [
            # The latest setting aside, which the dashboard's lead-time chart keys its cache
            # on, read from the few set-aside decisions rather than a scan of all of them.
            models.Index(
                fields=["set_aside_at"],
                condition=~standing_condition(),
                name="decision_set_aside_idx",
            )
        ]

    def __str__(self):
        return f"{self.reviewer} {self.verdict}"

    @property
    def stands(self) -> bool:
        """Return whether the decision counts (no suspension set it aside)."""
        return self.set_aside_at is None


class Absence(models.Model):
    """A reviewer's absence window for one dimension and the delegate deciding in their place."""

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="absences"
    )
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="delegations"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["reviewer", "dimension"]
        constraints = [
            models.UniqueConstraint(
                fields=["reviewer", "dimension"], name="one_absence_per_reviewer_dimension"
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="absence_ends_after_it_starts",
            ),
        ]

    def __str__(self):
        return f"{self.reviewer} away ({self.dimension}), delegate {self.delegate}"
