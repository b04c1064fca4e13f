"""Configuration checks of single sign-on, run by `manage.py check` and at start-up, and the
check of Countersign's own account, which needs the database: Django runs it when a check
names one (`manage.py check --database default`, `migrate`, and web, worker and beat
before they start); without `--database` it reports nothing.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from identity.mapping import group_map
from tokens.accounts import (
    SYSTEM_ACCOUNT_REMEDY,
    system_account_holder_message,
    system_account_holders,
)
from tokens.models import ApiToken


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


@checks.register(checks.Tags.database)
def system_account_held(app_configs, databases=None, **kwargs):
    """Name each account holding the system's name that is not the system's own: the system
    refuses to write as it, so re-certifications stay closed until it is renamed.

    A warning, not an error: the refusal keeps the harm out, and the product goes on
    serving, so that staff can rename the account in its admin."""
    errors = []
    for alias in databases or ():
        tables = set(connections[alias].introspection.table_names())
        if not {get_user_model()._meta.db_table, ApiToken._meta.db_table} <= tables:
            continue  # not migrated yet: nobody holds anything
        errors += [
            checks.Warning(
                system_account_holder_message(user, problems),
                hint=f"{SYSTEM_ACCOUNT_REMEDY} Until then the system writes nothing that "
                "needs its account, such as a re-certification (docs/operations.md, "
                "Countersign's own account).",
                id="identity.W003",
            )
            for user, problems in system_account_holders(using=alias)
        ]
    return errors
