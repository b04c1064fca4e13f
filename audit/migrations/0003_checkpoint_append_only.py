"""Refuse UPDATE and DELETE of signed checkpoints in PostgreSQL itself.

TRUNCATE stays possible so the test runner can flush the database; the
application never issues it.
"""

from django.db import migrations

FORWARD = """
CREATE TRIGGER audit_checkpoint_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""

BACKWARD = "DROP TRIGGER IF EXISTS audit_checkpoint_no_update_delete ON audit_checkpoint;"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_trigger")]
    operations = [migrations.RunPython(forward, backward)]
