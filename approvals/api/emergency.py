"""Emergency release and retirement endpoints: input -> service -> output."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api.serializers import AgentSerializer
from agents.api.views import visible_agent
from agents.models import Agent
from agents.permissions import can_edit, can_retire
from api.base import ApiMixin
from api.openapi import IDEMPOTENCY_KEY, errors
from api.permissions import refuse_unless
from approvals.api.views import package_visible
from approvals.emergency import emergency_approve, emergency_request
from approvals.models import (
    EMERGENCY_DIMENSIONS,
    ApprovalPackage,
    EmergencyApproval,
    EmergencyState,
)
from approvals.retirement import agent_retire
from config.reasons import REASON_MAX_LENGTH
from tokens.authentication import actor_for
from tokens.models import Scope


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)


class EmergencyApproveSerializer(serializers.Serializer):
    dimension = serializers.ChoiceField(choices=list(EMERGENCY_DIMENSIONS))


class EmergencySerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="package.agent.slug", read_only=True)
    package_version = serializers.IntegerField(source="package.version", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    security_approver = serializers.CharField(
        source="security_approver.username", read_only=True, allow_null=True, default=None
    )
    pam_approver = serializers.CharField(
        source="pam_approver.username", read_only=True, allow_null=True, default=None
    )
    state = serializers.ChoiceField(
        source="state_shown",
        choices=EmergencyState.choices,
        read_only=True,
        help_text="A granted emergency past its `ends_at` is `expired` from that instant.",
    )
    is_open = serializers.BooleanField(
        read_only=True, help_text="Whether the gate allows the package now."
    )

    class Meta:
        model = EmergencyApproval
        fields = [
            "agent",
            "package_version",
            "state",
            "is_open",
            "reason",
            "requested_by",
            "requested_at",
            "security_approver",
            "security_approved_at",
            "pam_approver",
            "pam_approved_at",
            "granted_at",
            "ends_at",
            "closed_at",
            "state_reason",
        ]
        read_only_fields = fields


def _emergency(package: ApprovalPackage) -> EmergencyApproval:
    return get_object_or_404(
        EmergencyApproval.objects.select_related(
            "package__agent", "requested_by", "security_approver", "pam_approver"
        ),
        package=package,
    )


class EmergencyView(ApiMixin, APIView):
    required_scopes = {"POST": Scope.PACKAGES_WRITE}

    @extend_schema(
        summary="Retrieve the emergency approval of a package version",
        responses={200: EmergencySerializer, **errors(401, 403, 404)},
    )
    def get(self, request, slug, version):
        return Response(
            EmergencySerializer(_emergency(package_visible(request, slug, version))).data
        )

    @extend_schema(
        summary="Ask for an emergency approval of a draft or a package in review",
        description=(
            "Owners and staff, with a reason. A draft is submitted: its full review opens at "
            "once. One security and one PAM approval (`.../emergency/approvals`) open a time "
            "box of EMERGENCY_APPROVAL_HOURS in which the gate allows the package with the "
            "reason `emergency_approval`; unless the full review approves it by then, the gate "
            "denies it (`emergency_expired`). Refusals: 409 `not_in_review`, "
            "`emergency_exists`, `no_emergency_needed`, `agent_suspended`, `agent_retired`."
        ),
        request=ReasonSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: EmergencySerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
    )
    def post(self, request, slug, version):
        package = package_visible(request, slug, version)
        refuse_unless(can_edit(request.user, package.agent))
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        emergency_request(actor=actor_for(request), package=package, **serializer.validated_data)
        return Response(
            EmergencySerializer(_emergency(package)).data, status=status.HTTP_201_CREATED
        )


class EmergencyApproveView(ApiMixin, APIView):
    required_scopes = {"POST": Scope.REVIEWS_WRITE}

    @extend_schema(
        summary="Give the security or PAM approval of an emergency release",
        description=(
            "The reviewer rules of a sign-off apply (group, assignment, never the submitter "
            "or an owner); never the requester, and one person gives one of the two. Refusals "
            "answer 403 with the reason as the code (`not_reviewer`, `not_assigned`, "
            "`self_review`, `owner_review`, `already_decided`, `other_dimension`). Signed in "
            "(no token), the sign-in must be at most STEP_UP_SECONDS old."
        ),
        request=EmergencyApproveSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: EmergencySerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
    )
    def post(self, request, slug, version):
        package = package_visible(request, slug, version)
        serializer = EmergencyApproveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        emergency_approve(actor=actor_for(request), package=package, **serializer.validated_data)
        return Response(EmergencySerializer(_emergency(package)).data)


class AgentRetireView(ApiMixin, APIView):
    required_scopes = {"POST": Scope.PACKAGES_WRITE}

    @extend_schema(
        summary="Retire an agent: its approval is revoked and every gate check denies",
        description=(
            "Owners and staff, with a reason. The approval and any review in progress are "
            "revoked, the gate denies with `agent_retired`, the kill-switch webhook is called, "
            "and the agent takes no new packages; its history and evidence stay readable. "
            "Signed in (no token), the sign-in must be at most STEP_UP_SECONDS old."
        ),
        request=ReasonSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: AgentSerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
    )
    def post(self, request, slug):
        agent = visible_agent(request, slug)
        refuse_unless(can_retire(request.user, agent))
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agent_retire(actor=actor_for(request), agent=agent, **serializer.validated_data)
        agent = Agent.objects.select_related("team").prefetch_related("owners").get(pk=agent.pk)
        return Response(AgentSerializer(agent).data)
