"""Every migration can run on a live, populated deployment and be taken back.

`migrate` runs while the version before it still serves (docs/operations.md,
"Upgrading"). The audit events and the observations are appended to by every gate
check, state change and runtime report, and are the tables that grow to millions of
rows (bench/seed.py seeds a million each). On them a plain index build blocks every
insert while it runs (1.3 s for a million events on the benchmark's volume), a
constraint added valid scans the table under an exclusive lock, and a column changed
in type or made NOT NULL rewrites or scans it the same way. So on these tables an
index is built concurrently (`AddIndexConcurrently` in a migration with
`atomic = False`) and a check constraint is added NOT VALID and validated after
(`AddConstraintNotValid`, then `ValidateConstraint`), both from
`django.contrib.postgres.operations`.

A data migration says how to take it back (`migrate APP PREVIOUS`), even if only
`RunPython.noop` when the columns it filled go with the schema change.
"""

from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.postgres.operations import AddConstraintNotValid, AddIndexConcurrently
from django.db import connection, migrations, models
from django.db.migrations.loader import MigrationLoader

from config.environment import BASE_DIR

BIG_MODELS = {("audit", "auditevent"), ("agents", "observation")}
# Migrations deployments have run: an edit changes nothing where one ran. This one's index
# on (actor_id, seq) blocks audit appends while it is built, on an upgrade from before it.
RELEASED = {("audit", "0005_fewer_indexes")}

PROJECT_APPS = {
    config.label
    for config in apps.get_app_configs()
    if Path(config.path).resolve().is_relative_to(BASE_DIR)
    and "site-packages" not in Path(config.path).resolve().parts
}
LOADER = MigrationLoader(None, ignore_no_migrations=True)
MIGRATIONS = sorted(key for key in LOADER.disk_migrations if key[0] in PROJECT_APPS)


def database_operations(operations):
    """The operations that reach the database, those inside SeparateDatabaseAndState too."""
    for operation in operations:
        if isinstance(operation, migrations.SeparateDatabaseAndState):
            yield from database_operations(operation.database_operations)
        else:
            yield operation


def all_operations(operations):
    for operation in operations:
        yield operation
        if isinstance(operation, migrations.SeparateDatabaseAndState):
            yield from all_operations(operation.state_operations)
            yield from all_operations(operation.database_operations)


def _model_of(operation) -> str:
    return (getattr(operation, "model_name", None) or getattr(operation, "name", "")).lower()


def _builds_index(field) -> bool:
    return bool(field.unique or field.db_index)


def _constant(value) -> bool:
    return isinstance(value, models.Value) or not hasattr(value, "resolve_expression")


def lock_problems(migration, before=None) -> list[str]:
    """What in a migration holds a big table's writes for a scan, a rewrite or an index build.

    `before` is the project state before the migration, read only for a field it alters.
    """
    created = {
        (migration.app_label, operation.name_lower)
        for operation in migration.operations
        if isinstance(operation, migrations.CreateModel)
    }
    problems = []
    for operation in database_operations(migration.operations):
        model = (migration.app_label, _model_of(operation))
        if model not in BIG_MODELS or model in created:
            continue
        where = f"{migration.app_label}.{migration.name}: {operation.describe()}"
        if isinstance(operation, migrations.AddIndex) and not isinstance(
            operation, AddIndexConcurrently
        ):
            problems.append(f"{where}: build it with AddIndexConcurrently (atomic = False)")
        elif isinstance(operation, migrations.AddConstraint) and not isinstance(
            operation, AddConstraintNotValid
        ):
            problems.append(f"{where}: add it NOT VALID, then ValidateConstraint")
        elif isinstance(operation, migrations.AddField):
            field = operation.field
            if _builds_index(field) or (field.is_relation and not field.many_to_many):
                problems.append(f"{where}: its index or foreign key is built under a lock")
            elif field.db_default is not models.NOT_PROVIDED and not _constant(field.db_default):
                problems.append(
                    f"{where}: a computed db_default may be volatile and rewrite the table"
                )
        elif isinstance(operation, migrations.AlterField):
            before = before or LOADER.project_state(
                (migration.app_label, migration.name), at_end=False
            )
            old = before.apps.get_model(*model)._meta.get_field(operation.name)
            new = operation.field
            if old.db_type(connection) != new.db_type(connection):
                problems.append(f"{where}: a new column type rewrites or scans the table")
            elif old.null and not new.null:
                problems.append(f"{where}: SET NOT NULL scans the table under a lock")
            elif _builds_index(new) and not _builds_index(old):
                problems.append(f"{where}: the index is built under a lock")
    return problems


def migration_named(app_label: str, operations):
    return type("Migration", (migrations.Migration,), {"operations": operations})(
        "0999_check", app_label
    )


@pytest.mark.parametrize("key", MIGRATIONS, ids=lambda key: ".".join(key))
def test_each_migration_can_be_taken_back(key):
    migration = LOADER.disk_migrations[key]
    irreversible = [
        operation.describe()
        for operation in all_operations(migration.operations)
        if not operation.reversible
    ]
    assert not irreversible, f"{'.'.join(key)} cannot be unapplied: {irreversible}"


def test_a_data_migration_without_a_reverse_is_found():
    migration = migration_named("agents", [migrations.RunPython(lambda apps, editor: None)])
    assert not all(operation.reversible for operation in all_operations(migration.operations))


@pytest.mark.parametrize("key", sorted(set(MIGRATIONS) - RELEASED), ids=lambda key: ".".join(key))
def test_no_migration_holds_the_big_tables_writes(key):
    assert lock_problems(LOADER.disk_migrations[key]) == []


def test_the_released_exception_still_needs_it():
    """An entry of RELEASED that no longer breaks the rule is dropped from the list."""
    for key in RELEASED:
        assert lock_problems(LOADER.disk_migrations[key])


def _leaf_state():
    return LOADER.project_state(LOADER.graph.leaf_nodes())


@pytest.mark.parametrize(
    ("app_label", "operation", "flagged"),
    [
        ("audit", migrations.AddIndex("auditevent", models.Index("action", name="ix")), True),
        ("audit", AddIndexConcurrently("auditevent", models.Index("action", name="ix")), False),
        ("agents", migrations.AddIndex("observation", models.Index("kind", name="ix")), True),
        # Packages are thousands of rows, not millions: their index builds in milliseconds.
        (
            "approvals",
            migrations.AddIndex("approvalpackage", models.Index("state", name="ix")),
            False,
        ),
        (
            "audit",
            migrations.AddConstraint(
                "auditevent", models.CheckConstraint(condition=models.Q(seq__gt=0), name="c")
            ),
            True,
        ),
        (
            "audit",
            AddConstraintNotValid(
                "auditevent", models.CheckConstraint(condition=models.Q(seq__gt=0), name="c")
            ),
            False,
        ),
        (
            "audit",
            migrations.AddField("auditevent", "note", models.TextField(db_default="")),
            False,
        ),
        (
            "audit",
            migrations.AddField(
                "auditevent",
                "uid",
                models.UUIDField(
                    db_default=models.Func(
                        function="gen_random_uuid", output_field=models.UUIDField()
                    )
                ),
            ),
            True,
        ),
        (
            "audit",
            migrations.AddField("auditevent", "tag", models.CharField(max_length=9, db_index=True)),
            True,
        ),
        (
            "audit",
            migrations.AddField(
                "auditevent", "agent", models.ForeignKey("agents.Agent", models.PROTECT)
            ),
            True,
        ),
        # A many-to-many field is a table of its own.
        (
            "audit",
            migrations.AddField("auditevent", "seen_by", models.ManyToManyField("auth.User")),
            False,
        ),
        (
            "audit",
            migrations.AlterField(
                "auditevent", "action", models.CharField(max_length=64, help_text="x")
            ),
            False,
        ),
        (
            "audit",
            migrations.AlterField(
                "auditevent", "action", models.CharField(max_length=64, db_index=True)
            ),
            True,
        ),
        (
            "audit",
            migrations.AlterField("auditevent", "action", models.CharField(max_length=32)),
            True,
        ),
    ],
)
def test_what_holds_a_big_table_is_found(app_label, operation, flagged):
    migration = migration_named(app_label, [operation])
    assert bool(lock_problems(migration, before=_leaf_state())) is flagged
