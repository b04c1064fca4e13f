"""The database role web, worker and beat connect as: it adds to the audit trail, never changes it.

The append-only triggers (migrations 0002, 0003) bind nobody who owns the
trail's tables, who switches them off with ALTER TABLE ... DISABLE TRIGGER, nor
a superuser. So the role that migrates owns the tables, and the processes that
serve connect as another role, which owns nothing and holds only what the
application uses:

- SELECT, INSERT, UPDATE and DELETE on the table of every installed model;
- on the trail's tables (`audit.models.TRAIL_MODELS`) SELECT and INSERT alone;
- USAGE and SELECT on those tables' sequences, USAGE on their schema;
- EXECUTE on the schema's own functions (audit_append(); PUBLIC holds it too
  unless a hardened database took it away).

Advisory locks and COPY ... TO STDOUT (exports, verification) need nothing more.
`runtime_role_grant` sets exactly that, whatever the role held before, and is run
after every `migrate` (`manage.py grant_runtime_role`), so the tables later
migrations create are covered then. No default privileges are set: they would
give a table that a migration adds to the trail UPDATE and DELETE until the
grant ran. `runtime_role_problems` is what the deployment check reports
(audit.checks).
"""

from django.db import connection, transaction

from audit.models import TRAIL_MODELS

APPLICATION_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
TRAIL_PRIVILEGES = "SELECT, INSERT"
# What would let the role change the trail: rows edited, removed, or rewritten by
# a trigger of its own on the way in.
TRAIL_REFUSED = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER")


class RuntimeRoleError(Exception):
    """The role cannot be made the runtime role (missing, a superuser, an owner)."""


def trail_tables() -> list[str]:
    """Return the names of the trail's tables."""
    return [model._meta.db_table for model in TRAIL_MODELS]


# The app's tables as the database names them (regclass text, quoted where
# needed), each with whether it belongs to the trail. Missing tables are skipped.
_TABLES = """
SELECT c.oid::regclass::text, c.relname = ANY(%s::text[])
FROM unnest(%s::text[]) AS name
JOIN pg_class c ON c.oid = to_regclass(name)
ORDER BY 1
"""

# The role: whether it is, or may become, a superuser, and the app's tables it
# owns or may act as the owner of.
_ROLE = """
SELECT quote_ident(r.rolname),
       EXISTS (SELECT FROM pg_roles s WHERE s.rolsuper AND pg_has_role(r.oid, s.oid, 'MEMBER')),
       ARRAY(
           SELECT c.oid::regclass::text FROM pg_class c
           WHERE c.oid = ANY(%s::regclass[]) AND pg_has_role(r.oid, c.relowner, 'MEMBER')
           ORDER BY 1
       )
FROM pg_roles r WHERE r.rolname = %s
"""

_SCHEMAS = (
    "SELECT DISTINCT relnamespace::regnamespace::text FROM pg_class WHERE oid = ANY(%s::regclass[])"
)

_SEQUENCES = """
SELECT DISTINCT s.oid::regclass::text
FROM pg_class s
JOIN pg_depend d
  ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.refclassid = 'pg_class'::regclass
WHERE s.relkind = 'S' AND d.refobjid = ANY(%s::regclass[])
ORDER BY 1
"""

# The schemas' own functions: not those an extension brought.
_FUNCTIONS = """
SELECT p.oid::regprocedure::text
FROM pg_proc p
WHERE p.pronamespace IN (SELECT relnamespace FROM pg_class WHERE oid = ANY(%s::regclass[]))
  AND NOT EXISTS (
      SELECT FROM pg_depend d
      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  )
ORDER BY 1
"""


def _application_tables(cursor) -> list[tuple[str, bool]]:
    """Return each existing table of an installed model as (regclass text, in the trail)."""
    names = connection.introspection.django_table_names(only_existing=True, include_views=False)
    cursor.execute(_TABLES, [trail_tables(), sorted(names)])
    return cursor.fetchall()


@transaction.atomic
def runtime_role_grant(*, role: str) -> dict[str, int]:
    """Give `role` exactly the runtime privileges on the app's tables; return what was granted.

    Run it as the role that owns the tables. Idempotent: each table's privileges
    are revoked and granted again in this transaction, so a privilege granted by
    hand (UPDATE on the trail, say) is gone afterwards.
    """
    if connection.vendor != "postgresql":
        raise RuntimeRoleError("Database roles are PostgreSQL's; this database has none.")
    with connection.cursor() as cursor:
        tables = _application_tables(cursor)
        names = [table for table, _ in tables]
        cursor.execute(_ROLE, [names, role])
        found = cursor.fetchone()
        if found is None:
            raise RuntimeRoleError(f"Role {role!r} does not exist; create it first.")
        grantee, superuser, owned = found
        if superuser:
            raise RuntimeRoleError(
                f"Role {role!r} is, or may become, a superuser, whom privileges do not bind."
            )
        if owned:
            raise RuntimeRoleError(
                f"Role {role!r} owns, or may act as the owner of, {', '.join(owned)}, and "
                "an owner can switch the trail's triggers off. Name a role that owns nothing."
            )
        cursor.execute(_SCHEMAS, [names])
        schemas = [schema for (schema,) in cursor.fetchall()]
        statements = [f"GRANT USAGE ON SCHEMA {schema} TO {grantee}" for schema in schemas]
        for table, in_trail in tables:
            privileges = TRAIL_PRIVILEGES if in_trail else APPLICATION_PRIVILEGES
            statements.append(f"REVOKE ALL ON TABLE {table} FROM {grantee}")
            statements.append(f"GRANT {privileges} ON TABLE {table} TO {grantee}")
        cursor.execute(_SEQUENCES, [names])
        sequences = [sequence for (sequence,) in cursor.fetchall()]
        for sequence in sequences:
            statements.append(f"REVOKE ALL ON SEQUENCE {sequence} FROM {grantee}")
            statements.append(f"GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {grantee}")
        cursor.execute(_FUNCTIONS, [names])
        functions = [function for (function,) in cursor.fetchall()]
        statements += [
            f"GRANT EXECUTE ON ROUTINE {function} TO {grantee}" for function in functions
        ]
        for statement in statements:
            cursor.execute(statement)
    return {
        "tables": len(tables),
        "trail": sum(in_trail for _, in_trail in tables),
        "sequences": len(sequences),
        "functions": len(functions),
    }


# For each of the trail's tables: whether the connection's role may act as its
# owner, and which of the refused privileges it holds.
_TRAIL_HOLDS = """
SELECT c.oid::regclass::text,
       pg_has_role(c.relowner, 'MEMBER'),
       ARRAY(SELECT p FROM unnest(%s::text[]) AS p WHERE has_table_privilege(c.oid, p))
FROM unnest(%s::text[]) AS name
JOIN pg_class c ON c.oid = to_regclass(name)
ORDER BY 1
"""

_SUPERUSER = """
SELECT current_user,
       EXISTS (SELECT FROM pg_roles s WHERE s.rolsuper AND pg_has_role(s.oid, 'MEMBER'))
"""


def runtime_role_problems(conn) -> list[str]:
    """Return how the role a PostgreSQL connection acts as could change the trail.

    Empty when it could not: it is not (and may not become) a superuser, does not
    own (nor may act as the owner of) the trail's tables, and holds none of
    `TRAIL_REFUSED` on them. The role checked is the one whose privileges the
    connection's statements use (current_user).
    """
    with conn.cursor() as cursor:
        cursor.execute(_SUPERUSER)
        role, superuser = cursor.fetchone()
        if superuser:
            return [
                f"The database role {role!r} is, or may become, a superuser: the audit "
                "trail's append-only triggers do not bind it."
            ]
        cursor.execute(_TRAIL_HOLDS, [list(TRAIL_REFUSED), trail_tables()])
        problems = []
        for table, owner, held in cursor.fetchall():
            if owner:
                problems.append(
                    f"The database role {role!r} owns, or may act as the owner of, {table}: "
                    "it can switch the append-only triggers off."
                )
            elif held:
                problems.append(
                    f"The database role {role!r} holds {', '.join(held)} on {table}, "
                    "part of the append-only audit trail."
                )
        return problems
