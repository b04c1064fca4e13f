"""The deployment check of the database role: `manage.py check --deploy --database default`.

It needs the database, so Django runs it only when a check names one; without
`--database` it reports nothing.
"""

from django.core.checks import Error, Tags, register
from django.db import connections

from audit.runtime_role import runtime_role_problems


@register(Tags.database, deploy=True)
def check_runtime_role(app_configs, databases=None, **kwargs):
    """Refuse a database role that could change the audit trail."""
    errors = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        errors += [
            Error(
                problem,
                hint="Connect web, worker and beat as a role that owns nothing, given its "
                "privileges by `manage.py grant_runtime_role ROLE` run as the tables' owner "
                "after `migrate` (docs/operations.md, Database roles).",
                id="audit.E001",
            )
            for problem in runtime_role_problems(connection)
        ]
    return errors
