"""The packages list across agents: the API face of the packages page, with its FilterSet."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins

from agents.api.views import agents_in_reach
from api.base import ApiMixin
from api.openapi import errors
from approvals.api.serializers import PackageListSerializer
from approvals.filters import PackageFilterSet
from approvals.models import ApprovalPackage


class PackageListView(ApiMixin, mixins.ListModelMixin, generics.GenericAPIView):
    serializer_class = PackageListSerializer
    filterset_class = PackageFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApprovalPackage.objects.none()
        return (
            ApprovalPackage.objects.filter(agent__in=agents_in_reach(self.request))
            .select_related("agent")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(
        summary="List the packages of the agents you may see, newest first",
        description=(
            "Filters: `state`, `agent`, `team`, `owner` (a username), `pending` (a dimension "
            "whose sign-off a package in review still waits for) and `risk_tier`; a filter "
            "may repeat where it takes several values. The packages page filters alike."
        ),
        responses={200: PackageListSerializer(many=True), **errors(400, 401, 403)},
    )
    def get(self, request):
        return self.list(request)
