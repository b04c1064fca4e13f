"""Package, diff and gate shapes of the API."""

import re
from collections.abc import Mapping

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers

from approvals import depth, rereview
from approvals.gate_vocabulary import GateDecision, GateReason
from approvals.manifest import CLASSIFICATION_LABELS, DIFF_GROUPS, change_words
from approvals.models import (
    FINDING_TEXT_MAX_LENGTH,
    ApprovalPackage,
    DriftFinding,
    PackageState,
)
from config.identifiers import AGENT_SLUG_MAX_LENGTH
from signoffs.api.serializers import DecisionSerializer, SignOffSerializer
from signoffs.models import Dimension


class ChangeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    identifier = serializers.CharField()
    field = serializers.CharField()
    change = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)
    classification = serializers.ChoiceField(
        choices=list(CLASSIFICATION_LABELS),
        help_text="What the change does to an approval: "
        + "; ".join(f"{key}: {label}" for key, label in CLASSIFICATION_LABELS.items())
        + ". The manifest schema's x-change-class says which fields are scope, commitment "
        "or narrative.",
    )
    message = serializers.CharField()


class DiffChangeSerializer(ChangeSerializer):
    words = serializers.CharField(
        help_text="The change in words, its field named by the title the manifest schema "
        "gives it, as the pages show it: `tool zendesk: access read → write`, "
        "`rollback plan: … → …`. For people; kind, identifier and field are for machines."
    )


class DiffSerializer(serializers.Serializer):
    expansions = DiffChangeSerializer(many=True, help_text="Scope expansions: need a full review.")
    narrowings = DiffChangeSerializer(many=True, help_text="Scope narrowings.")
    commitments = DiffChangeSerializer(
        many=True, help_text="Changed commitments: any change needs a full review."
    )
    narrative = DiffChangeSerializer(many=True, help_text="Reworded narrative text: free.")
    is_expansion = serializers.BooleanField()
    is_commitment_change = serializers.BooleanField()
    is_pure_narrowing = serializers.BooleanField()


class PackageDiffSerializer(serializers.Serializer):
    agent = serializers.CharField()
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    diff = DiffSerializer()


def diff_shown(diff: dict | None) -> dict | None:
    """Return a diff as the API shows it: as stored, each change with its words added."""
    if not diff:
        return None
    groups = {group for group, _ in DIFF_GROUPS}
    return {
        key: [{**change, "words": change_words(change)} for change in value]
        if key in groups
        else value
        for key, value in diff.items()
    }


@extend_schema_field(DiffSerializer(allow_null=True))
class _DiffField(serializers.JSONField):
    def to_representation(self, value):
        return diff_shown(value)


class ReviewDepthSerializer(serializers.Serializer):
    tier = serializers.CharField()
    rule = serializers.ChoiceField(choices=[depth.LIGHT, depth.FULL])
    explanation = serializers.CharField()
    optional_items = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="By dimension, the checklist items the light path leaves optional.",
    )


class ReviewPlanSerializer(serializers.Serializer):
    """What the review of a submitted version covers, fixed at submission."""

    mode = serializers.ChoiceField(
        choices=[rereview.FIRST, rereview.FULL, rereview.TARGETED, rereview.CARRIED],
        help_text="first version, full review, targeted re-review, or every sign-off carried.",
    )
    reason = serializers.CharField()
    changed_fields = serializers.ListField(
        child=serializers.CharField(),
        help_text="The manifest fields whose changes need a review (scope.tools[].access).",
    )
    reopened = serializers.DictField(
        child=serializers.CharField(), help_text="Dimension -> why it is reviewed again."
    )
    carried_over = serializers.DictField(
        child=serializers.CharField(), help_text="Dimension -> why its sign-off carries over."
    )
    depth = ReviewDepthSerializer()


@extend_schema_field(ReviewPlanSerializer(allow_null=True))
class _ReviewPlanField(serializers.JSONField):
    def to_representation(self, value):
        return value or None


class PackageListSerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.slug", read_only=True)
    state = serializers.ChoiceField(
        source="state_shown",
        choices=PackageState.choices,
        read_only=True,
        help_text="An approval past its expiry is `expired` from that instant.",
    )
    state_label = serializers.SerializerMethodField(
        help_text="The state in words, as the pages show it (`In review`)."
    )
    risk_tier_label = serializers.SerializerMethodField(
        help_text="The risk tier in words, as the pages show it (`High`)."
    )

    class Meta:
        model = ApprovalPackage
        fields = [
            "agent",
            "version",
            "state",
            "state_label",
            "risk_tier",
            "risk_tier_label",
            "digest",
            "is_recertification",
            "carried_over",
            "created_at",
            "submitted_at",
            "approved_at",
            "expires_at",
        ]
        read_only_fields = fields

    def get_state_label(self, package) -> str:
        return PackageState(package.state_shown).label

    def get_risk_tier_label(self, package) -> str:
        return package.get_risk_tier_display()


class PackageSerializer(PackageListSerializer):
    """A package with its manifest, its diff against the last approval, sign-offs and decisions."""

    created_by = serializers.CharField(source="created_by.username", read_only=True)
    submitted_by = serializers.CharField(
        source="submitted_by.username", read_only=True, allow_null=True, default=None
    )
    base_version = serializers.IntegerField(
        source="base.version", read_only=True, allow_null=True, default=None
    )
    manifest = serializers.JSONField(read_only=True)
    diff = _DiffField(read_only=True)
    review_plan = _ReviewPlanField(read_only=True)
    signoffs = SignOffSerializer(many=True, read_only=True)

    class Meta(PackageListSerializer.Meta):
        fields = [
            *PackageListSerializer.Meta.fields,
            "created_by",
            "submitted_by",
            "decided_at",
            "closed_at",
            "state_reason",
            "base_version",
            "diff",
            "review_plan",
            "manifest",
            "signoffs",
        ]
        read_only_fields = fields


class DecisionResultSerializer(serializers.Serializer):
    decision = DecisionSerializer()
    dimension = serializers.CharField()
    signoff_state = serializers.CharField()
    package_state = serializers.CharField()


# The gate's request, as GateCheckInputSerializer documents it and gate_request checks it.
AGENT_PATTERN = r"^[-a-zA-Z0-9_]+\Z"
DIGEST_PATTERN = r"^[0-9a-fA-F]{64}\Z"
# A longer text cannot arrive: the request body holding it would be over the one limit.
MANIFEST_YAML_MAX_LENGTH = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
GATE_SUBJECTS = ("manifest", "manifest_yaml", "digest")
ONE_SUBJECT = "Send exactly one of manifest, manifest_yaml and digest."


class GateCheckInputSerializer(serializers.Serializer):
    """Exactly one of manifest, manifest_yaml and digest, with the agent's slug.

    The OpenAPI description of the gate's request; the gate itself checks a
    request with `gate_request`, which follows these fields (tests hold the two
    together) without a serializer's per-call copy of its fields.
    """

    agent = serializers.RegexField(AGENT_PATTERN, max_length=AGENT_SLUG_MAX_LENGTH)
    manifest = serializers.DictField(
        required=False, help_text="The manifest as JSON (see schema/manifest.json)."
    )
    manifest_yaml = serializers.CharField(
        required=False,
        trim_whitespace=False,
        max_length=MANIFEST_YAML_MAX_LENGTH,
        help_text="The manifest file's YAML text, as read from the repository.",
    )
    digest = serializers.RegexField(
        DIGEST_PATTERN, required=False, help_text="SHA-256 of the canonical manifest."
    )

    def validate(self, attrs):
        if len([name for name in GATE_SUBJECTS if name in attrs]) != 1:
            raise serializers.ValidationError(ONE_SUBJECT)
        return attrs


_AGENT = re.compile(AGENT_PATTERN)
_DIGEST = re.compile(DIGEST_PATTERN)


def agent_slug_valid(agent: str) -> bool:
    return bool(_AGENT.match(agent)) and len(agent) <= AGENT_SLUG_MAX_LENGTH


def gate_request(data: Mapping) -> tuple[dict, dict[str, list[str]]]:
    """Return the values of a gate request and its errors by field, as the serializer would."""
    errors: dict[str, list[str]] = {}
    agent = data.get("agent")
    if isinstance(agent, str | int | float) and not isinstance(agent, bool):
        agent = str(agent).strip()  # as a CharField takes it
    if agent is None:
        errors["agent"] = ["This field is required."]
    elif not isinstance(agent, str) or not _AGENT.match(agent):
        errors["agent"] = ["Letters, digits, '-' and '_' only."]
    elif not agent_slug_valid(agent):
        errors["agent"] = [f"At most {AGENT_SLUG_MAX_LENGTH} characters."]
    values = {"agent": agent}
    for name in GATE_SUBJECTS:
        value = data.get(name)
        if value is None:
            continue
        values[name] = value
        if name == "manifest" and not isinstance(value, dict):
            errors[name] = ["A JSON object."]
        elif name == "digest" and not (isinstance(value, str) and _DIGEST.match(value)):
            errors[name] = ["64 hexadecimal characters."]
        elif name == "manifest_yaml" and not (
            isinstance(value, str) and 0 < len(value) <= MANIFEST_YAML_MAX_LENGTH
        ):
            errors[name] = [f"Text of 1 to {MANIFEST_YAML_MAX_LENGTH} characters."]
    if len(values) != 2:
        errors["non_field_errors"] = [ONE_SUBJECT]
    return values, errors


# The gate's reasons and what each means, as the API documents them.
GATE_REASONS = dict(GateReason.choices)


class GateReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=list(GATE_REASONS))
    message = serializers.CharField()
    expansions = ChangeSerializer(
        many=True, required=False, help_text="With scope_mismatch: what widens the scope."
    )
    changed_fields = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="With commitment_changed: the manifest paths of the changed commitments.",
    )

    def get_fields(self):
        # "fields" names a Serializer property, so it cannot be declared as an attribute.
        fields = super().get_fields()
        fields["fields"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text=(
                "With invalid_request and invalid_manifest: the bad fields and what is wrong."
            ),
        )
        return fields


class GateResultSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=GateDecision.values)
    reasons = GateReasonSerializer(many=True)
    package_version = serializers.IntegerField(
        allow_null=True,
        help_text="The last approved version the check was compared with, or the version "
        "an emergency approval covers (with emergency_approval or emergency_expired).",
    )
    digest = serializers.CharField(
        allow_null=True,
        help_text="The digest of the scope checked (the one sent); never the approved one.",
    )
    expires_at = serializers.DateTimeField(allow_null=True)


class SubmitSerializer(serializers.Serializer):
    """Submitting takes no fields."""


class FindingSerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.slug", read_only=True)
    package_version = serializers.IntegerField(
        source="package.version",
        read_only=True,
        allow_null=True,
        help_text="The approved version the use was compared with.",
    )
    blocks_gate = serializers.BooleanField(
        read_only=True, help_text="Whether every gate check of the agent denies while it stands."
    )

    class Meta:
        model = DriftFinding
        fields = [
            "id",
            "agent",
            "package_version",
            "kind",
            "identifier",
            "access",
            "reason",
            "severity",
            "status",
            "count",
            "first_seen",
            "last_seen",
            "resolution",
            "blocks_gate",
        ]
        read_only_fields = fields


class FindingAcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=FINDING_TEXT_MAX_LENGTH, required=False, allow_blank=True, default=""
    )


class FindingResolveSerializer(serializers.Serializer):
    resolution = serializers.CharField(
        max_length=FINDING_TEXT_MAX_LENGTH, help_text="How it was resolved."
    )


ManifestBody = OpenApiTypes.OBJECT


# A sign-off's dimension in a path: one of four (another is 404 `unknown_dimension`).
DIMENSION = OpenApiParameter(
    name="dimension", location=OpenApiParameter.PATH, enum=Dimension.values
)
