from rest_framework import serializers

from audit.chain import STORED_COLUMNS
from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = list(STORED_COLUMNS)
        read_only_fields = fields


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


class CheckpointSerializer(serializers.Serializer):
    type = serializers.CharField()
    seq = serializers.IntegerField()
    head_hash = serializers.CharField()
    created_at = serializers.CharField()
    public_key_fingerprint = serializers.CharField()
    signature = serializers.CharField()
    public_key = serializers.CharField(allow_blank=True)
