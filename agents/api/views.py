"""Agent endpoints: list, create, observations (one agent's own endpoint is approvals')."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from agents.api.serializers import (
    AgentCreateSerializer,
    AgentSerializer,
    ObservationAcceptedSerializer,
    ObservationBatchSerializer,
)
from agents.filters import AgentFilterSet
from agents.models import Agent
from agents.observations import can_report, observations_record
from agents.permissions import can_register
from agents.services import agent_create, team_by_slug, users_by_username
from api.base import ApiMixin
from api.openapi import IDEMPOTENCY_KEY, errors
from api.permissions import refuse_unless
from config.errors import NotPermitted
from tokens.authentication import actor_for
from tokens.models import Scope
from tokens.selectors import RequestToken, within_binding

SLUG_REGEX = r"[-a-zA-Z0-9_]+"


def agents_in_reach(request):
    """Return the agents the caller may see, narrowed to its token's agents when it is bound."""
    return within_binding(Agent.objects.visible_to(request.user), request.auth)


def visible_agent(request, slug: str) -> Agent:
    """Return the agent if the caller may see it (and its token reach it); 404 otherwise."""
    return get_object_or_404(agents_in_reach(request), slug=slug)


@extend_schema_view(
    list=extend_schema(
        summary="List the agents you may see",
        responses={200: AgentSerializer(many=True), **errors(400, 401, 403)},
    ),
)
class AgentViewSet(ApiMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AgentSerializer
    filterset_class = AgentFilterSet
    lookup_field = "slug"
    lookup_value_regex = SLUG_REGEX
    http_method_names = ["get", "post", "head", "options"]
    required_scopes = {"POST": Scope.PACKAGES_WRITE}

    def get_required_scope(self, request):
        if self.action == "observations":
            return Scope.OBSERVATIONS_WRITE
        return self.required_scopes.get(request.method)

    def get_queryset(self):
        return agents_in_reach(self.request).select_related("team").prefetch_related("owners")

    @extend_schema(
        summary="Register an agent",
        request=AgentCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: AgentSerializer, **errors(400, 401, 403, 409, 422, 429)},
    )
    def create(self, request):
        if isinstance(request.auth, RequestToken) and request.auth.bound:
            raise NotPermitted(
                "A token bound to agents reaches only them: it registers none.", code="token_bound"
            )
        refuse_unless(can_register(request.user))
        serializer = AgentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        owners = data.pop("owners", None)
        agent = agent_create(
            actor=actor_for(request),
            owners=users_by_username(owners) if owners else (),
            team=team_by_slug(data.pop("team"), user=request.user),
            **data,
        )
        # Read back past the caller's scope: they may have named other owners than themselves.
        agent = Agent.objects.select_related("team").prefetch_related("owners").get(pk=agent.pk)
        return Response(AgentSerializer(agent).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Report what the agent's runtime used",
        request=ObservationBatchSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            202: ObservationAcceptedSerializer,
            **errors(400, 401, 403, 404, 409, 422, 429),
        },
    )
    @action(detail=True, methods=["post"], url_path="observations")
    def observations(self, request, slug=None):
        agent = visible_agent(request, slug)
        actor = actor_for(request)
        refuse_unless(can_report(actor=actor, agent=agent))
        serializer = ObservationBatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        accepted = observations_record(
            actor=actor, agent=agent, items=serializer.validated_data["items"]
        )
        return Response({"accepted": accepted}, status=status.HTTP_202_ACCEPTED)
