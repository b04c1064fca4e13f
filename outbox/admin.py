from functools import partial

from celery import schedules
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import CrontabSchedule, PeriodicTask, SolarSchedule

from config.admin import ReadOnlyAdmin, UniqueRaceAdmin
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


# django-celery-beat's admins of the tasks and crontabs staff edit, with forms that refuse
# what they cannot read as a field error. Its own forms go on to read a field that failed
# its check (the task, a crontab's part, a time zone's name), which is a server error.
CRON_PARTS = ["minute", "hour", "day_of_week", "day_of_month", "month_of_year"]
ZONES = CrontabSchedule._meta.get_field("timezone").tz_backend.all_tzstrs


class PeriodicTaskForm(beat_admin.PeriodicTaskForm):
    def clean(self):
        if "task" in self.cleaned_data:
            return super().clean()
        # The custom task has its own error (a NUL, past its 200 characters), which says
        # why; the parent's clean reads its value and would replace that error.
        return forms.ModelForm.clean(self)


def _zone_listed(coerce, value):
    """Return what `coerce` makes of a time zone's name, if zoneinfo lists the name.

    A name is a file to zoneinfo: one past what a file name holds raised OSError. The form
    coerces the hidden initial value the client sends too (show_hidden_initial, for the
    field's callable default), which no choice check has seen.
    """
    if isinstance(value, str) and value not in ZONES:
        raise ValidationError("Not a time zone.")
    return coerce(value)


class CrontabScheduleForm(forms.ModelForm):
    class Meta:
        model = CrontabSchedule
        fields = CRON_PARTS + ["timezone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone = self.fields["timezone"]
        zone.coerce = partial(_zone_listed, zone.coerce)

    def clean(self):
        cleaned = super().clean()
        for name in CRON_PARTS:
            if name not in cleaned:
                continue
            # Celery's parser is what beat runs the schedule with, and what the page's
            # description of the schedule reads: a part it refuses is refused here, before
            # the form puts it on the row the page describes.
            try:
                schedules.crontab(**{name: cleaned[name]})
            except (schedules.ParseException, ValueError) as error:
                self.add_error(name, f"Celery cannot read it: {error}")
        return cleaned


admin.site.unregister(PeriodicTask)
admin.site.unregister(CrontabSchedule)
admin.site.unregister(SolarSchedule)


# A task's name and a solar event's place are unique: a save that another commits the same
# value before is refused on its form (UniqueRaceAdmin).
@admin.register(PeriodicTask)
class PeriodicTaskAdmin(UniqueRaceAdmin, beat_admin.PeriodicTaskAdmin):
    form = PeriodicTaskForm


@admin.register(SolarSchedule)
class SolarScheduleAdmin(UniqueRaceAdmin, beat_admin.SolarScheduleAdmin):
    """django-celery-beat's, refusing an event and place taken meanwhile on its form."""


@admin.register(CrontabSchedule)
class CrontabScheduleAdmin(beat_admin.CrontabScheduleAdmin):
    form = CrontabScheduleForm
