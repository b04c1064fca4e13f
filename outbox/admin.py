from django.contrib import admin

from config.admin import ReadOnlyAdmin
from outbox.models import Notification, Reminder, WebhookDelivery


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    fields = ["url", "purpose", "status", "attempts", "response_code", "delivered_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = [
        "event",
        "agent_slug",
        "created_at",
        "dispatched_at",
        "mailed_at",
        "mail_attempts",
    ]
    list_filter = ["event"]
    search_fields = ["agent_slug"]
    inlines = [WebhookDeliveryInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["notification", "url", "purpose", "status", "attempts", "response_code"]
    list_filter = ["status", "purpose"]
    list_select_related = ["notification"]


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ["key", "sent_at"]
    search_fields = ["key"]
