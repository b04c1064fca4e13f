"""Agent API shapes: input serializers validate form, services apply rules."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import Agent, ObservationKind
from agents.vocabulary import Access, Deployment

SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"


class AgentSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="The team's slug; null when it has none.",
    )
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


class AgentCreateSerializer(serializers.Serializer):
    slug = serializers.RegexField(SLUG_PATTERN, max_length=63)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="A team's slug; product owners name a team they are members of.",
    )
    workload_id = serializers.CharField(max_length=2048)
    log_principal = serializers.CharField(max_length=200)
    deployment = serializers.ChoiceField(choices=Deployment.choices)
    owners = serializers.ListField(
        child=serializers.CharField(max_length=150),
        required=False,
        max_length=100,
        help_text="Usernames; the caller owns the agent when none are given.",
    )


class AgentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    team = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="A team's slug (empty for none); product owners name a team they are members of.",
    )
    owners = serializers.ListField(
        child=serializers.CharField(max_length=150),
        required=False,
        min_length=1,
        max_length=100,
        help_text="Usernames. While a package is in review, none may be added who may review it.",
    )


class SuspendSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ObservationItemSerializer(serializers.Serializer):
    """The documented shape of one observation; the observations service validates it."""

    kind = serializers.ChoiceField(choices=ObservationKind.choices)
    identifier = serializers.CharField(max_length=2048)
    access = serializers.ChoiceField(
        choices=Access.values,
        required=False,
        help_text="Required except for model and prompt observations, which carry none.",
    )
    count = serializers.IntegerField(min_value=1, required=False, default=1)
    seen_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    source = serializers.CharField(max_length=200, required=False, allow_blank=True)


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
