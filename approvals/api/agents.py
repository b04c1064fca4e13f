"""One agent's endpoint (read, change): here, since an owner change depends on its reviews."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api.serializers import AgentSerializer, AgentUpdateSerializer
from agents.api.views import visible_agent
from agents.models import Agent
from agents.permissions import can_edit
from agents.services import team_by_slug, users_by_username
from api.base import ApiMixin
from api.openapi import errors
from api.permissions import refuse_unless
from approvals.ownership import agent_update
from tokens.authentication import actor_for
from tokens.models import Scope


def _agent_out(agent: Agent) -> dict:
    agent = Agent.objects.select_related("team").prefetch_related("owners").get(pk=agent.pk)
    return AgentSerializer(agent).data


class AgentDetailView(ApiMixin, APIView):
    required_scopes = {"PATCH": Scope.PACKAGES_WRITE}

    @extend_schema(
        summary="Retrieve an agent", responses={200: AgentSerializer, **errors(401, 403, 404)}
    )
    def get(self, request, slug):
        return Response(_agent_out(visible_agent(request, slug)))

    @extend_schema(
        summary="Change an agent's name, description, team or owners",
        description=(
            "Owners name a team they are members of. While a package is in review, no "
            "owner change may add someone who may review it (an `owners` error); nor may "
            "any add a deactivated user (`inactive_user`)."
        ),
        request=AgentUpdateSerializer,
        responses={200: AgentSerializer, **errors(400, 401, 403, 404, 429)},
    )
    def patch(self, request, slug):
        agent = visible_agent(request, slug)
        refuse_unless(can_edit(request.user, agent))
        serializer = AgentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "owners" in changes:
            changes["owners"] = users_by_username(changes["owners"])
        if "team" in changes:
            changes["team"] = team_by_slug(changes["team"], user=request.user)
        agent_update(actor=actor_for(request), agent=agent, **changes)
        return Response(_agent_out(agent))
