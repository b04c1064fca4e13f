"""The audit app's system checks: the retired signing keys (`manage.py check`, at start-up)
and the database role (`manage.py check --deploy --database default`).

The role's check needs the database, so Django runs it only when a check names one;
without `--database` it reports nothing.
"""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from audit.runtime_role import runtime_role_problems
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


@checks.register(checks.Tags.database, deploy=True)
def check_runtime_role(app_configs, databases=None, **kwargs):
    """Refuse a database role that could change the audit trail."""
    errors = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        errors += [
            checks.Error(
                problem,
                hint="Connect web, worker and beat as a role that owns nothing, given its "
                "privileges by `manage.py grant_runtime_role ROLE` run as the tables' owner "
                "after `migrate` (docs/operations.md, Database roles).",
                id="audit.E002",
            )
            for problem in runtime_role_problems(connection)
        ]
    return errors
