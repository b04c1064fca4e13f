"""The "My absence" form and the staff's reassignment of a pending sign-off."""

from django import forms
from django.contrib.auth import get_user_model

from config.reasons import REASON_MAX_LENGTH
from signoffs.models import Dimension

WINDOW_FORMAT = "%Y-%m-%dT%H:%M"


class _When(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self):
        super().__init__(format=WINDOW_FORMAT)


class AbsenceForm(forms.Form):
    dimension = forms.ChoiceField(
        label="Sign-off dimension", help_text="The dimension your delegate decides for you."
    )
    delegate = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        help_text="An active member of the same reviewer group. Every rule of who may decide "
        "still applies to them when they decide.",
    )
    starts_at = forms.DateTimeField(
        label="Away from (UTC)",
        input_formats=[WINDOW_FORMAT],
        widget=_When(),
        help_text="Your delegate decides for you from this minute on.",
    )
    ends_at = forms.DateTimeField(
        label="Back on (UTC)",
        input_formats=[WINDOW_FORMAT],
        widget=_When(),
        help_text="You are back at this minute: from then on, your delegate no longer "
        "decides for you.",
    )

    def __init__(self, *args, reviewer, dimensions, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Dimension.choices)
        self.fields["dimension"].choices = [(d, labels[d]) for d in dimensions]
        self.fields["delegate"].queryset = (
            get_user_model()
            .objects.filter(groups__name__in=dimensions, is_active=True)
            .exclude(pk=reviewer.pk)
            .distinct()
            .order_by("username")
        )
        self.fields["delegate"].label_from_instance = lambda user: user.get_username()


class ReassignForm(forms.Form):
    dimension = forms.ChoiceField(label="Sign-off", choices=Dimension.choices)
    user = forms.CharField(
        label="New reviewer (username)",
        max_length=150,
        help_text="Only this reviewer (or their delegate while absent) decides it from now on.",
    )
    reason = forms.CharField(max_length=REASON_MAX_LENGTH, help_text="Recorded in the audit trail.")
