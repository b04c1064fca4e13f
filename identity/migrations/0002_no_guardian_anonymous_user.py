"""Remove the user row django-guardian made for visitors who are not signed in.

Settings turn that feature off (ANONYMOUS_USER_NAME = None), so the row, "AnonymousUser",
is no person: it cannot sign in and holds nothing, yet every list and count of users
showed it. It is removed only as guardian made it (no usable password, never signed in)
and only while nothing of the workflow names it; otherwise it is deactivated, so that it
decides and reaches nothing.
"""

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import migrations
from django.db.models.deletion import ProtectedError

GUARDIAN_ANONYMOUS_NAME = "AnonymousUser"


def remove_anonymous_user(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    stand_ins = User.objects.filter(
        username=GUARDIAN_ANONYMOUS_NAME,
        last_login__isnull=True,
        password__startswith=UNUSABLE_PASSWORD_PREFIX,
    )
    for user in stand_ins:
        try:
            user.delete()
        except ProtectedError:
            User.objects.filter(pk=user.pk).update(is_active=False)


class Migration(migrations.Migration):
    # Every app whose rows may point at a user, so that removing one meets all of them.
    dependencies = [
        ("identity", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
        ("api", "0001_initial"),
        ("audit", "0006_verification_run"),
        ("tokens", "0006_api_token_name"),
        ("agents", "0007_usage_day"),
        ("signoffs", "0005_checklist_coverage_and_review_depth"),
        ("approvals", "0011_approved_package_expires"),
    ]

    operations = [
        migrations.RunPython(remove_anonymous_user, migrations.RunPython.noop),
    ]
