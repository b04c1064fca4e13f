from django.contrib import admin

from tokens.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "last_used_at", "revoked_at"]
