"""The shapes of the AuthZEN and policy-export endpoints, for the OpenAPI schema."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from approvals.gate_vocabulary import GateDecision


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
        choices=GateDecision.values, help_text="deny: the bundle forbids everything."
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
