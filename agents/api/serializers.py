"""Agent API shapes: input serializers validate form, services apply rules."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.identity import validate_spiffe_id
from agents.models import OWNERS_MAX, Agent, ObservationKind
from agents.observations import (
    DIGEST_KINDS,
    MAX_COUNT,
    MAX_IDENTIFIER_LENGTH,
    MAX_ITEMS,
    MAX_SOURCE_LENGTH,
)
from agents.vocabulary import Access, Deployment
from api.filters import NOT_BLANK_PATTERN
from config.identifiers import (
    AGENT_SLUG_MESSAGE,
    AGENT_SLUG_PATTERN,
    IDENTIFIER_PATTERN,
    validate_identifier,
)
from config.reasons import REASON_MAX_LENGTH


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
            "retired_at",
            "retired_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_owners(self, agent) -> list[str]:
        return sorted(user.get_username() for user in agent.owners.all())


def _username():
    return serializers.CharField(max_length=150, validators=[validate_identifier])


class AgentCreateSerializer(serializers.Serializer):
    slug = serializers.RegexField(
        AGENT_SLUG_PATTERN,
        help_text=AGENT_SLUG_MESSAGE,
        error_messages={"invalid": AGENT_SLUG_MESSAGE},
    )
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    team = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        validators=[validate_identifier],
        help_text="A team's slug; product owners name a team they are members of.",
    )
    workload_id = serializers.CharField(max_length=2048, validators=[validate_spiffe_id])
    log_principal = serializers.CharField(max_length=200, validators=[validate_identifier])
    deployment = serializers.ChoiceField(choices=Deployment.choices)
    owners = serializers.ListField(
        child=_username(),
        required=False,
        max_length=OWNERS_MAX,
        help_text="Usernames; the caller owns the agent when none are given.",
    )


class AgentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    team = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        validators=[validate_identifier],
        help_text="A team's slug (empty for none); product owners name a team they are members of.",
    )
    owners = serializers.ListField(
        child=_username(),
        required=False,
        min_length=1,
        max_length=OWNERS_MAX,
        help_text="Usernames. While a package is in review, none may be added who may review it.",
    )


class SuspendSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)


def _observation_item_schema() -> dict:
    """Return the JSON Schema of one observation, as agents.observations validates it.

    Written out rather than derived from a serializer: an item is one of two
    shapes (a use carries an access level, a model or prompt digest none), and
    no field beyond them is taken.
    """
    common = {
        "identifier": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_IDENTIFIER_LENGTH,
            "allOf": [{"pattern": IDENTIFIER_PATTERN}, {"pattern": NOT_BLANK_PATTERN}],
        },
        "count": {"type": "integer", "minimum": 1, "maximum": MAX_COUNT, "default": 1},
        "seen_at": {
            "type": "string",
            "format": "date-time",
            "description": "Defaults to now; at most a few minutes ahead of the server's clock.",
        },
        "source": {
            "type": "string",
            "maxLength": MAX_SOURCE_LENGTH,
            "allOf": [{"pattern": IDENTIFIER_PATTERN}],
        },
    }
    digests = [kind.value for kind in DIGEST_KINDS]
    uses = [kind for kind in ObservationKind.values if kind not in digests]
    use = {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "identifier", "access"],
        "properties": {"kind": {"enum": uses}, "access": {"enum": Access.values}, **common},
    }
    digest = {
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "identifier"],
        "properties": {"kind": {"enum": digests}, **common},
    }
    return {"oneOf": [use, digest]}


@extend_schema_field(_observation_item_schema())
class _ObservationItemField(serializers.JSONField):
    """Pass each item through as sent, so the service reports every problem by index."""


class ObservationBatchSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=_ObservationItemField(),
        min_length=1,
        max_length=MAX_ITEMS,
        help_text=(
            "What the runtime used: {kind, identifier, access, count, seen_at, source}. "
            "A bad item is reported as items[i].field and none of the batch is stored."
        ),
    )


class ObservationAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
