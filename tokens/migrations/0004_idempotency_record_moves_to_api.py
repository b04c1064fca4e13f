"""The idempotency records move to the api app: the table stays, only Django's state moves."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0003_idempotency_body_as_text"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotencyRecord")],
            database_operations=[],
        ),
    ]
