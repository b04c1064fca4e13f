"""Configuration checks of the signing keys, run by `manage.py check` and at start-up."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from audit.signing import retired_public_keys


@checks.register()
def retired_signing_keys(app_configs, **kwargs):
    """Refuse retired public keys that cannot be read: verification would fail on them."""
    try:
        retired_public_keys()
    except ImproperlyConfigured as error:
        return [
            checks.Error(
                str(error),
                hint="Give each retired key's public key in PEM, one block after another.",
                id="audit.E001",
            )
        ]
    return []
