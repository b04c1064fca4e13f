"""Which account of the identity provider a user is."""

from django.conf import settings
from django.db import models


class ProviderIdentity(models.Model):
    """A user's account at an OpenID Connect provider: its issuer and subject.

    A provider's sign-in finds its user through this link only, never by username or
    email, so no provider account can take over a local one that shares its name.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_identity"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_user_per_subject")
        ]

    def __str__(self):
        return f"{self.subject} at {self.issuer}"
