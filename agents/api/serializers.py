"""Agent API shapes: input serializers validate form, services apply rules."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import Agent, ObservationKind
from agents.vocabulary import Access, Deployment
from config.identifiers import validate_identifier

SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"


class AgentSerializer(serializers.ModelSerializer):
    owners = serializers.SerializerMethodField()
    suspended = serializers.BooleanField(source="is_suspended", read_only=True)

    class Meta:
        model = Agent
        fields = [
            "slug",
            "name",
            "description",
            "team",
            "owners",
            "workload_id",
            "log_principal",
            "deployment",
            "status",
            "risk_tier",
            "suspended",
            "suspended_at",
            "suspended_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_owners(self, agent) -> list[str]:
        return sorted(user.get_username() for user in agent.owners.all())


def _username():
    return serializers.CharField(max_length=150, validators=[validate_identifier])


class AgentCreateSerializer(serializers.Serializer):
    slug = serializers.RegexField(SLUG_PATTERN, max_length=63)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        validators=[validate_identifier],
    )
    workload_id = serializers.CharField(max_length=2048)
    log_principal = serializers.CharField(max_length=200, validators=[validate_identifier])
    deployment = serializers.ChoiceField(choices=Deployment.choices)
    owners = serializers.ListField(
        child=_username(),
        required=False,
        max_length=100,
        help_text="Usernames; the caller owns the agent when none are given.",
    )


class AgentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    team = serializers.CharField(
        max_length=100, required=False, allow_blank=True, validators=[validate_identifier]
    )
    owners = serializers.ListField(child=_username(), required=False, min_length=1, max_length=100)


class SuspendSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ObservationItemSerializer(serializers.Serializer):
    """The documented shape of one observation; the observations service validates it."""

    kind = serializers.ChoiceField(choices=ObservationKind.choices)
    identifier = serializers.CharField(max_length=2048, validators=[validate_identifier])
    access = serializers.ChoiceField(
        choices=Access.values,
        required=False,
        help_text="Required except for model and prompt observations, which carry none.",
    )
    count = serializers.IntegerField(min_value=1, required=False, default=1)
    seen_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    source = serializers.CharField(
        max_length=200, required=False, allow_blank=True, validators=[validate_identifier]
    )


@extend_schema_field(ObservationItemSerializer)
class _ObservationItemField(serializers.JSONField):
    """Pass each item through as sent, so the service reports every problem by index."""


class ObservationBatchSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=_ObservationItemField(),
        min_length=1,
        max_length=10_000,
        help_text=(
            "What the runtime used: {kind, identifier, access, count, seen_at, source}. "
            "A bad item is reported as items[i].field and none of the batch is stored."
        ),
    )


class ObservationAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
