"""`manage.py grant_runtime_role ROLE`: give the role web, worker and beat use what they need.

Run it as the role that owns the tables, after every `migrate`: it reads the
tables from the installed models, so those a migration adds are covered then.
"""

from django.core.management.base import BaseCommand, CommandError

from audit.runtime_role import RuntimeRoleError, runtime_role_grant, trail_tables


class Command(BaseCommand):
    help = (
        "Grant a database role what web, worker and beat need, and on the audit trail "
        "only SELECT and INSERT. Run as the tables' owner after every migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="the database role web, worker and beat connect as")

    def handle(self, *args, **options):
        role = options["role"]
        try:
            granted = runtime_role_grant(role=role)
        except RuntimeRoleError as error:
            raise CommandError(str(error)) from None
        others = granted["tables"] - granted["trail"]
        self.stdout.write(
            f"Role {role}: SELECT, INSERT, UPDATE, DELETE on {others} tables, "
            f"SELECT and INSERT only on the audit trail ({', '.join(trail_tables())}); "
            f"{granted['sequences']} sequences, {granted['functions']} functions."
        )
