"""Token API shapes: input serializers check form, the services apply the rules."""

from rest_framework import serializers

from config.identifiers import AGENT_SLUG_MAX_LENGTH, SLUG_PATTERN
from config.times import OffsetDateTimeField
from tokens.models import ApiToken, Scope, TokenState
from tokens.services import MAX_BOUND_AGENTS


class TokenSerializer(serializers.ModelSerializer):
    agents = serializers.SlugRelatedField(
        slug_field="slug",
        many=True,
        read_only=True,
        help_text="The agents the token is limited to; empty: every agent its user may see.",
    )
    state = serializers.ChoiceField(
        choices=TokenState.choices,
        read_only=True,
        help_text=(
            "What a use of the token is answered now: `active`, else the refusal (`revoked`, "
            "`expired`, or `user_inactive` while its user is deactivated)."
        ),
    )

    class Meta:
        model = ApiToken
        fields = [
            "prefix",
            "name",
            "state",
            "scopes",
            "agents",
            "allowed_networks",
            "expires_at",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class TokenCreatedSerializer(TokenSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The token to send as `Bearer <secret>`; shown only here."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=ApiToken._meta.get_field("name").max_length)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.choices),
        min_length=1,
        max_length=len(Scope.values),
        help_text="At most what your role grants (e.g. reviewers decide, product owners write).",
    )
    agents = serializers.ListField(
        child=serializers.RegexField(SLUG_PATTERN, max_length=AGENT_SLUG_MAX_LENGTH),
        required=False,
        default=list,
        max_length=MAX_BOUND_AGENTS,
        help_text="Slugs of agents you own to bind the token to; empty: not bound.",
    )
    expires_at = OffsetDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="With its offset; default: in 90 days.",
    )
    allowed_networks = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        default=list,
        max_length=50,
        help_text="CIDRs the token may be used from; empty: anywhere.",
    )
