"""Reassigning a pending sign-off to another reviewer (staff)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.permissions import can_administer_members
from api.base import ApiMixin
from api.openapi import IDEMPOTENCY_KEY, errors
from api.permissions import refuse_unless
from approvals.api.serializers import DIMENSION
from approvals.api.views import package_visible
from approvals.delegation import signoff_reassign
from config.reasons import REASON_MAX_LENGTH
from config.roles import Scope
from signoffs.api.serializers import SignOffSerializer
from signoffs.api.views import user_of_field
from signoffs.models import SignOff
from tokens.authentication import actor_for


class ReassignInputSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=150, help_text="The new reviewer's username.")
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)


class SignOffReassignView(ApiMixin, APIView):
    required_scopes = {"POST": Scope.REVIEWS_WRITE}

    @extend_schema(
        summary="Reassign a pending sign-off to one reviewer (staff)",
        description=(
            "Only that reviewer (or their delegate while they are absent) decides it from "
            "then on. The reviewer must be able to decide it under every rule of who may "
            "decide; otherwise 400 names the rule as the error code."
        ),
        request=ReassignInputSerializer,
        parameters=[IDEMPOTENCY_KEY, DIMENSION],
        responses={200: SignOffSerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
    )
    def post(self, request, slug, version, dimension):
        package = package_visible(request, slug, version)
        refuse_unless(can_administer_members(request.user))
        serializer = ReassignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        signoff = signoff_reassign(
            actor=actor_for(request),
            package=package,
            dimension=dimension,
            user=user_of_field("user", serializer.validated_data["user"]),
            reason=serializer.validated_data["reason"],
        )
        signoff = (
            SignOff.objects.select_related("checklist", "assigned_to")
            .prefetch_related("decisions__reviewer", "decisions__on_behalf_of")
            .get(pk=signoff.pk)
        )
        return Response(SignOffSerializer(signoff).data)
