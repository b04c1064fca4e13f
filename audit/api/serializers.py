from rest_framework import serializers

from audit import signing
from audit.chain import STORED_COLUMNS
from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = list(STORED_COLUMNS)
        read_only_fields = fields


class SigningKeyUsageSerializer(serializers.Serializer):
    fingerprint = serializers.CharField(help_text="SHA-256 of the raw Ed25519 public key, hex.")
    source = serializers.ChoiceField(
        choices=signing.KEY_SOURCES,
        help_text="current: the signing key; retired: RETIRED_SIGNING_PUBLIC_KEYS; "
        "given: named by whoever asked for the verification.",
    )
    checkpoints = serializers.IntegerField(
        help_text="Checkpoints whose signature this key checked."
    )


class VerifyResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    events = serializers.IntegerField()
    first_seq = serializers.IntegerField(allow_null=True)
    last_seq = serializers.IntegerField(allow_null=True)
    head_hash = serializers.CharField(allow_blank=True)
    checkpoints = serializers.IntegerField()
    broken_seq = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    detail = serializers.CharField(allow_blank=True)
    warnings = serializers.ListField(child=serializers.CharField())
    seconds = serializers.FloatField()
    signing_keys = SigningKeyUsageSerializer(
        many=True,
        help_text="The keys trusted to check the signed checkpoints, the current one first.",
    )


class CheckpointSerializer(serializers.Serializer):
    type = serializers.CharField()
    seq = serializers.IntegerField()
    head_hash = serializers.CharField()
    created_at = serializers.CharField()
    public_key_fingerprint = serializers.CharField()
    signature = serializers.CharField()
    public_key = serializers.CharField(allow_blank=True)
