"""Absence endpoints: a reviewer's out-of-office window and the delegate deciding for them."""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import ApiMixin
from api.openapi import IDEMPOTENCY_KEY, errors
from config.errors import InvalidInput
from config.roles import Scope
from config.usernames import user_named
from signoffs.absence import absence_clear, absence_set, absences_visible
from signoffs.api.serializers import AbsenceInputSerializer, AbsenceSerializer
from signoffs.models import Absence
from tokens.authentication import actor_for


def user_of_field(field: str, username: str):
    """Return the user of this username, in any case, or raise naming the field."""
    user = user_named(username)
    if user is None:
        message = f"No user {username!r}."
        raise InvalidInput(message, code="unknown_user", fields={field: [message]})
    return user


class AbsenceListCreateView(ApiMixin, mixins.ListModelMixin, generics.GenericAPIView):
    serializer_class = AbsenceSerializer
    required_scopes = {"POST": Scope.REVIEWS_WRITE}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Absence.objects.none()
        return absences_visible(self.request.user)

    @extend_schema(
        summary="List absences: your own and those you cover (staff: all)",
        responses={200: AbsenceSerializer(many=True), **errors(401, 403)},
    )
    def get(self, request):
        return self.list(request)

    @extend_schema(
        summary="Set an absence window and the delegate who decides in your place",
        description=(
            "One absence per reviewer and dimension: setting it again replaces the window "
            "and the delegate. The delegate must be an active member of the dimension's "
            "reviewer group; every rule of who may decide still applies to them when they "
            "decide. Staff may name another `reviewer`."
        ),
        request=AbsenceInputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: AbsenceSerializer, **errors(400, 401, 403, 409, 422, 429)},
    )
    def post(self, request):
        serializer = AbsenceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reviewer = (
            user_of_field("reviewer", data["reviewer"]) if "reviewer" in data else request.user
        )
        absence = absence_set(
            actor=actor_for(request),
            reviewer=reviewer,
            dimension=data["dimension"],
            delegate=user_of_field("delegate", data["delegate"]),
            starts_at=data.get("starts_at") or timezone.now(),
            ends_at=data["ends_at"],
        )
        absence = absences_visible(request.user).get(pk=absence.pk)
        return Response(AbsenceSerializer(absence).data, status=status.HTTP_201_CREATED)


class AbsenceDetailView(ApiMixin, APIView):
    required_scopes = {"DELETE": Scope.REVIEWS_WRITE}

    @extend_schema(
        summary="End an absence now",
        request=None,
        responses={204: None, **errors(401, 403, 404, 429)},
    )
    def delete(self, request, pk):
        absence = get_object_or_404(absences_visible(request.user), pk=pk)
        absence_clear(actor=actor_for(request), absence=absence)
        return Response(status=status.HTTP_204_NO_CONTENT)
