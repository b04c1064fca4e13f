"""Token endpoints: list, create and revoke your own tokens, signed in.

A token never manages tokens: one that leaked could otherwise mint
successors that outlive its own revocation and expiry, or revoke the
tokens of the pipelines it was stolen from. These endpoints therefore
answer a browser session only (as the API tokens page does); a token
is refused with 403 `session_required`.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import JsonParser
from api.openapi import errors
from api.permissions import IsAuthenticated
from api.throttling import WriteThrottle
from audit.actors import Actor
from config.errors import InvalidInput
from tokens.api.serializers import TokenCreatedSerializer, TokenCreateSerializer, TokenSerializer
from tokens.models import ApiToken
from tokens.selectors import tokens_list
from tokens.services import agents_bindable, not_bindable_message, token_create, token_revoke


class SessionRequired(exceptions.PermissionDenied):
    default_code = "session_required"
    default_detail = "Tokens are managed signed in, never with a token."


class SessionOnly(BasePermission):
    """Refuse a request authenticated by an API token (see the module's docstring)."""

    def has_permission(self, request, view):
        if request.auth is not None:
            raise SessionRequired()
        return True


# The schema says what SessionOnly enforces: a browser session, never a token.
@extend_schema(auth=[{"cookieAuth": []}])
class TokenApiView(APIView):
    renderer_classes = [JSONRenderer]
    parser_classes = [JsonParser]
    permission_classes = [IsAuthenticated, SessionOnly]
    throttle_classes = [WriteThrottle]


def _own_token(request, prefix: str) -> ApiToken:
    return get_object_or_404(tokens_list(user=request.user), prefix=prefix)


class TokenListCreateView(TokenApiView):
    @extend_schema(
        summary="List your API tokens, newest first (never their secrets)",
        responses={200: TokenSerializer(many=True), **errors(401, 403)},
    )
    def get(self, request):
        return Response(TokenSerializer(tokens_list(user=request.user), many=True).data)

    @extend_schema(
        summary="Create an API token for yourself; its secret is in this answer only",
        description=(
            "Scopes are capped by your role (a refused one is a `scopes` field error), "
            "agents are those you own (staff: any). Signed-in sessions only, signed in at "
            "most STEP_UP_SECONDS ago (403 `step_up_required`)."
        ),
        request=TokenCreateSerializer,
        responses={201: TokenCreatedSerializer, **errors(400, 401, 403, 429)},
    )
    def post(self, request):
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        agents = list(agents_bindable(request.user).filter(slug__in=data["agents"]))
        refused = set(data["agents"]) - {agent.slug for agent in agents}
        if refused:
            # Every slug of no agent and of an agent not the user's, in one refusal, as the
            # page words it: the answer does not tell which slugs exist.
            message = not_bindable_message(refused)
            raise InvalidInput(message, fields={"agents": [message]})
        token, secret = token_create(
            actor=Actor.for_session(request),
            user=request.user,
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data["expires_at"],
            allowed_networks=data["allowed_networks"],
            agents=agents,
        )
        token = tokens_list(user=request.user).get(pk=token.pk)
        body = {**TokenSerializer(token).data, "secret": secret}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class TokenRevokeView(TokenApiView):
    @extend_schema(
        summary="Revoke one of your tokens: from now on it authenticates nothing",
        request=None,
        # 400: a session's CSRF check parses any body sent, and refuses one it cannot read.
        responses={200: TokenSerializer, **errors(400, 401, 403, 404, 409, 429)},
    )
    def post(self, request, prefix):
        token = token_revoke(actor=Actor.for_user(request.user), token=_own_token(request, prefix))
        return Response(TokenSerializer(_own_token(request, token.prefix)).data)


class TokenDetailView(TokenApiView):
    @extend_schema(
        summary="Revoke one of your tokens (the same as POST .../revoke)",
        responses={200: TokenSerializer, **errors(401, 403, 404, 409, 429)},
    )
    def delete(self, request, prefix):
        token = token_revoke(actor=Actor.for_user(request.user), token=_own_token(request, prefix))
        return Response(TokenSerializer(_own_token(request, token.prefix)).data)
