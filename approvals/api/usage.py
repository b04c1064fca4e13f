"""An agent's runtime usage per approved scope entry, and "narrow to what was used"."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api.views import visible_agent
from agents.permissions import can_edit
from agents.usage import NARROW_WINDOW, WINDOWS
from api.base import ApiMixin
from api.openapi import IDEMPOTENCY_KEY, errors
from api.permissions import refuse_unless
from approvals.api.serializers import PackageSerializer
from approvals.api.views import package_visible
from approvals.narrowing import package_narrow, package_usage
from approvals.selectors import package_in_force
from tokens.authentication import actor_for
from tokens.models import Scope


class UseSerializer(serializers.Serializer):
    """Usage of one scope entry (or of one use outside the approved scope).

    Uses: what the runtime reported and what the decision point allowed;
    denies: what the decision point denied. Windows are UTC days, today included.
    """

    kind = serializers.CharField()
    id = serializers.CharField()
    access = serializers.CharField()
    last_used = serializers.DateField(
        allow_null=True, help_text="The last day (UTC) it was used; null: never."
    )
    uses_30d = serializers.IntegerField()
    uses_90d = serializers.IntegerField()
    denies_30d = serializers.IntegerField()
    denies_90d = serializers.IntegerField()
    never_used = serializers.BooleanField()
    highest_access_90d = serializers.CharField(
        allow_null=True,
        help_text=f"The highest access it was used at in the last {NARROW_WINDOW} days; null: "
        "not used. A narrowing lowers an entry used only below its approved access to it.",
    )


class NarrowSerializer(serializers.Serializer):
    """Narrowing takes no fields: what is kept follows from the usage."""


class UsageSerializer(serializers.Serializer):
    agent = serializers.CharField()
    package_version = serializers.IntegerField(
        allow_null=True, help_text="The approved version the entries are of; null: none."
    )
    today = serializers.DateField(help_text="The last day of the windows (UTC).")
    entries = UseSerializer(
        many=True,
        help_text="Per scope entry of the approved version; an entry counts the uses it "
        "allows (its access level or a lower one).",
    )
    outside_scope = UseSerializer(
        many=True,
        help_text=f"Uses and denies in the last {WINDOWS[-1]} days that no approved entry allows.",
    )


class AgentUsageView(ApiMixin, APIView):
    @extend_schema(
        summary="What the agent's runtime used of its approved scope, and beyond it",
        responses={200: UsageSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, slug):
        agent = visible_agent(request, slug)
        package = package_in_force(agent)
        usage = package_usage(agent, package)
        data = {
            "agent": agent.slug,
            "package_version": package.version if package else None,
            "today": usage.today,
            "entries": [use.as_dict() for use in usage.entries],
            "outside_scope": [use.as_dict() for use in usage.outside],
        }
        return Response(UsageSerializer(data).data)


class AgentNarrowView(ApiMixin, APIView):
    required_scopes = {"POST": Scope.PACKAGES_WRITE}

    @extend_schema(
        summary="Draft a version that keeps only what was used lately",
        description=(
            f"Drafts a new version of the approved package whose scope keeps only what was "
            f"used in the last {NARROW_WINDOW} days: an entry not used is removed, an entry "
            "used only below its approved access keeps the highest access it was used at. "
            "Every other field stays as approved. Submitted, it only narrows, so its "
            "sign-offs carry over. 409 `nothing_to_narrow` when every entry was used at its "
            "approved access, `empty_scope` when none was used, "
            "`no_approved_package` when none is approved."
        ),
        request=NarrowSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: PackageSerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
    )
    def post(self, request, slug):
        agent = visible_agent(request, slug)
        refuse_unless(can_edit(request.user, agent))
        NarrowSerializer(data=request.data).is_valid(raise_exception=True)
        package = package_narrow(actor=actor_for(request), agent=agent)
        package = package_visible(request, slug, package.version, detail=True)
        return Response(PackageSerializer(package).data, status=status.HTTP_201_CREATED)
