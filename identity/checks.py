"""Configuration checks of single sign-on, run by `manage.py check` and at start-up."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from identity.mapping import group_map


@checks.register()
def oidc_configuration(app_configs, **kwargs):
    problems = []
    try:
        group_map()
    except ImproperlyConfigured as error:
        problems.append(checks.Error(str(error), id="identity.E001"))
    if settings.OIDC_ENABLED and not settings.OIDC_RP_CLIENT_SECRET:
        problems.append(
            checks.Error(
                "OIDC_CLIENT_SECRET is empty: the provider's token endpoint authenticates "
                "this app with it.",
                id="identity.E002",
            )
        )
    if not settings.LOCAL_LOGIN and not settings.OIDC_ENABLED:
        problems.append(
            checks.Warning(
                "LOCAL_LOGIN is off and OIDC is not configured: nobody can sign in.",
                id="identity.W001",
            )
        )
    return problems
