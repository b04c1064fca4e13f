"""The shapes of the AuthZEN and policy-export endpoints, for the OpenAPI schema."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from runtime.requests import SEMANTICS


class SubjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="`agent`.")
    id = serializers.CharField(help_text="The agent's slug or SPIFFE ID.")
    properties = serializers.DictField(required=False)


class ActionSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="An access level: read, write, execute or admin.")
    properties = serializers.DictField(required=False)


class ResourceSerializer(serializers.Serializer):
    type = serializers.CharField(
        help_text="The scope entry's kind: action, tool, dataset, endpoint or external_api."
    )
    id = serializers.CharField(help_text="The scope entry's identifier.")
    properties = serializers.DictField(
        required=False,
        help_text="Optional claims: `privileged` (boolean), `trust_boundary`, `classification`.",
    )


class EvaluationRequestSerializer(serializers.Serializer):
    subject = SubjectSerializer()
    action = ActionSerializer()
    resource = ResourceSerializer()
    context = serializers.DictField(
        required=False,
        help_text=(
            "Optional claims: `chain_depth` (calls this one is chained after, 0 for a direct "
            "call), `credential_ttl_seconds`, `credential_method`; `end_user` is accepted."
        ),
    )


class EvaluationEntrySerializer(serializers.Serializer):
    subject = SubjectSerializer(required=False)
    action = ActionSerializer(required=False)
    resource = ResourceSerializer(required=False)
    context = serializers.DictField(required=False)


class OptionsSerializer(serializers.Serializer):
    evaluations_semantic = serializers.ChoiceField(choices=SEMANTICS, required=False)


class EvaluationsRequestSerializer(serializers.Serializer):
    subject = SubjectSerializer(required=False, help_text="Default for every entry.")
    action = ActionSerializer(required=False, help_text="Default for every entry.")
    resource = ResourceSerializer(required=False, help_text="Default for every entry.")
    context = serializers.DictField(required=False, help_text="Default for every entry.")
    evaluations = EvaluationEntrySerializer(many=True, required=False)
    options = OptionsSerializer(required=False)


class AccessDecisionContextSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="The first reason code.")
    reasons = serializers.ListField(child=serializers.CharField())
    error = serializers.DictField(
        required=False, help_text="In a batch: why an entry could not be read (status, message)."
    )


class AccessDecisionSerializer(serializers.Serializer):
    decision = serializers.BooleanField()
    context = AccessDecisionContextSerializer(required=False, help_text="With a deny only.")


class EvaluationsResponseSerializer(serializers.Serializer):
    evaluations = AccessDecisionSerializer(
        many=True, required=False, help_text="One decision per entry, in order."
    )
    decision = serializers.BooleanField(
        required=False, help_text="Instead of `evaluations` when the request had none."
    )
    context = AccessDecisionContextSerializer(required=False)


class DiscoverySerializer(serializers.Serializer):
    policy_decision_point = serializers.URLField()
    access_evaluation_endpoint = serializers.URLField()
    access_evaluations_endpoint = serializers.URLField()


class PolicyBundleSerializer(serializers.Serializer):
    format = serializers.CharField()
    agent = serializers.CharField()
    workload_id = serializers.CharField()
    decision = serializers.ChoiceField(
        choices=["allow", "deny"], help_text="deny: the bundle forbids everything."
    )
    reasons = serializers.ListField(child=serializers.CharField())
    package_version = serializers.IntegerField(allow_null=True)
    digest = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    expires_epoch = serializers.IntegerField(allow_null=True)
    policies = serializers.CharField(help_text="Cedar policy text.")
    schema = serializers.DictField(help_text="The Cedar schema, JSON form.")
    entities = serializers.ListField(child=serializers.DictField())
    key_fingerprint = serializers.CharField()


AuthzenError = OpenApiResponse(OpenApiTypes.STR, description="An error message string.")
