from django.contrib import admin

from audit.models import AuditEvent, Checkpoint, VerificationRun
from config.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "created_at", "action", "actor_label", "agent_slug", "package_version"]
    list_filter = ["action", "actor_type"]
    search_fields = ["agent_slug", "actor_label", "action", "request_id"]
    show_full_result_count = False


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["seq", "created_at", "head_hash", "public_key_fingerprint"]


@admin.register(VerificationRun)
class VerificationRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "created_at", "requested_label", "state", "events_done", "events_total"]
    list_filter = ["state"]
