"""Sign-off and decision shapes, embedded in the package answers."""

from rest_framework import serializers

from config.times import OffsetDateTimeField
from signoffs.models import Absence, Decision, Dimension, SignOff, Verdict


class DecisionSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    on_behalf_of = serializers.CharField(
        source="on_behalf_of.username",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The absent reviewer whose delegate made the decision; null otherwise.",
    )

    set_aside_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When a suspension of the agent set the decision aside, after which it no "
        "longer counts; null while it counts.",
    )

    class Meta:
        model = Decision
        fields = [
            "id",
            "reviewer",
            "on_behalf_of",
            "verdict",
            "comment",
            "answers",
            "created_at",
            "set_aside_at",
        ]
        read_only_fields = fields


class SignOffSerializer(serializers.ModelSerializer):
    checklist_version = serializers.IntegerField(source="checklist.version", read_only=True)
    carried_over = serializers.SerializerMethodField()
    assigned_to = serializers.CharField(
        source="assigned_to.username",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The reviewer staff reassigned the sign-off to; null when not reassigned.",
    )
    required_items = serializers.SerializerMethodField(
        help_text="The checklist item codes an approval must tick, by the review depth of "
        "the package's risk tier."
    )
    review_reason = serializers.CharField(
        read_only=True,
        help_text="Why this sign-off is open, or carried over, in this version.",
    )
    decisions = DecisionSerializer(many=True, read_only=True)

    class Meta:
        model = SignOff
        fields = [
            "dimension",
            "state",
            "assigned_to",
            "required_approvals",
            "checklist_version",
            "carried_over",
            "review_reason",
            "required_items",
            "decisions",
        ]
        read_only_fields = fields

    def get_carried_over(self, signoff) -> bool:
        return signoff.carried_over_from_id is not None

    def get_required_items(self, signoff) -> list[str]:
        return [item.code for item in signoff.checklist.items.all() if signoff.item_required(item)]


class DecisionInputSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)
    answers = serializers.DictField(
        child=serializers.BooleanField(),
        required=False,
        default=dict,
        help_text="Checklist item code -> answered yes/no.",
    )


class AbsenceSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    delegate = serializers.CharField(source="delegate.username", read_only=True)

    class Meta:
        model = Absence
        fields = ["id", "reviewer", "dimension", "delegate", "starts_at", "ends_at"]
        read_only_fields = fields


class AbsenceInputSerializer(serializers.Serializer):
    dimension = serializers.ChoiceField(choices=Dimension.choices)
    delegate = serializers.CharField(max_length=150, help_text="The delegate's username.")
    starts_at = OffsetDateTimeField(
        required=False, help_text="When the absence starts, with its offset; now when left out."
    )
    ends_at = OffsetDateTimeField(help_text="When the absence ends (exclusive), with its offset.")
    reviewer = serializers.CharField(
        max_length=150,
        required=False,
        help_text="Whose absence (staff only); the caller's own when left out.",
    )
