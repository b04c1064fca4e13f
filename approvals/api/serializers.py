"""Package, diff and gate shapes of the API."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from approvals.models import ApprovalPackage
from signoffs.api.serializers import DecisionSerializer, SignOffSerializer


class ChangeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    identifier = serializers.CharField()
    field = serializers.CharField()
    change = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)
    classification = serializers.CharField()
    message = serializers.CharField()


class DiffSerializer(serializers.Serializer):
    expansions = ChangeSerializer(many=True)
    narrowings = ChangeSerializer(many=True)
    neutral = ChangeSerializer(many=True)
    is_expansion = serializers.BooleanField()
    is_pure_narrowing = serializers.BooleanField()


class PackageDiffSerializer(serializers.Serializer):
    agent = serializers.CharField()
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    diff = DiffSerializer()


@extend_schema_field(DiffSerializer(allow_null=True))
class _DiffField(serializers.JSONField):
    def to_representation(self, value):
        return value or None


class PackageListSerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.slug", read_only=True)

    class Meta:
        model = ApprovalPackage
        fields = [
            "agent",
            "version",
            "state",
            "risk_tier",
            "digest",
            "is_recertification",
            "carried_over",
            "created_at",
            "submitted_at",
            "approved_at",
            "expires_at",
        ]
        read_only_fields = fields


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
            "manifest",
            "signoffs",
        ]
        read_only_fields = fields


class DecisionResultSerializer(serializers.Serializer):
    decision = DecisionSerializer()
    dimension = serializers.CharField()
    signoff_state = serializers.CharField()
    package_state = serializers.CharField()


class GateCheckInputSerializer(serializers.Serializer):
    """Exactly one of manifest, manifest_yaml and digest, with the agent's slug."""

    agent = serializers.RegexField(r"^[-a-zA-Z0-9_]+$", max_length=63)
    manifest = serializers.DictField(
        required=False, help_text="The manifest as JSON (see schema/manifest.json)."
    )
    manifest_yaml = serializers.CharField(
        required=False,
        trim_whitespace=False,
        max_length=5 * 1024 * 1024,
        help_text="The manifest file's YAML text, as read from the repository.",
    )
    digest = serializers.RegexField(
        r"^[0-9a-fA-F]{64}$", required=False, help_text="SHA-256 of the canonical manifest."
    )

    def validate(self, attrs):
        given = [name for name in ("manifest", "manifest_yaml", "digest") if name in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                "Send exactly one of manifest, manifest_yaml and digest."
            )
        return attrs


class GateReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[
            "unknown_agent",
            "no_approved_package",
            "scope_mismatch",
            "approval_expired",
            "agent_suspended",
            "open_critical_drift",
            "invalid_request",
            "invalid_manifest",
            "internal_error",
            "audit_unavailable",
        ]
    )
    message = serializers.CharField()
    expansions = ChangeSerializer(many=True, required=False)


# "fields" names a Serializer property, so it is declared after the class.
GateReasonSerializer._declared_fields["fields"] = serializers.DictField(
    child=serializers.ListField(child=serializers.CharField()),
    required=False,
    help_text="With invalid_request and invalid_manifest: the bad fields and what is wrong.",
)


class GateResultSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["allow", "deny"])
    reasons = GateReasonSerializer(many=True)
    package_version = serializers.IntegerField(allow_null=True)
    digest = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)


class ManifestInputSerializer(serializers.Serializer):
    """For the schema only: a manifest as JSON, or wrapped YAML text."""

    manifest_yaml = serializers.CharField(required=False, trim_whitespace=False)


class SubmitSerializer(serializers.Serializer):
    """Submitting takes no fields."""


ManifestBody = OpenApiTypes.OBJECT
