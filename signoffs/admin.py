from django.contrib import admin

from config.admin import ReadOnlyAdmin
from signoffs.models import Decision, SignOff

# The checklists' admin is approvals.admin's: it names the manifest fields each item
# covers in the manifest's words, which this app does not know.


class DecisionInline(admin.TabularInline):
    model = Decision
    extra = 0
    readonly_fields = ["reviewer", "verdict", "comment", "answers", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    list_display = ["package", "dimension", "state", "required_approvals"]
    list_filter = ["dimension", "state"]
    list_select_related = ["package__agent"]
    inlines = [DecisionInline]
