"""Django's own commands that save users, with each save recorded in the audit trail."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_save


class UserSavesRecorded:
    """Run a Django command's `handle` in one transaction, calling `self.record(user,
    created)` on every save of a user it makes: the change and its audit event commit
    together, or neither does. Django's commands save the users themselves, so the
    saves are observed rather than made here."""

    def record(self, user, created: bool) -> None:
        raise NotImplementedError

    def handle(self, *args, **options):
        model = get_user_model()
        uid = f"{type(self).__module__}.record"

        def saved(sender, instance, created, **kwargs):
            self.record(instance, created)

        post_save.connect(saved, sender=model, weak=False, dispatch_uid=uid)
        try:
            with transaction.atomic(using=options["database"]):
                return super().handle(*args, **options)
        finally:
            post_save.disconnect(sender=model, dispatch_uid=uid)
