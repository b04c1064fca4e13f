"""The scheduled prune removes idempotency answers past their window, and only those."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.models import IdempotencyRecord
from api.services import IDEMPOTENCY_TTL
from api.tasks import idempotency_records_prune
from config.schedule import SCHEDULE

pytestmark = pytest.mark.django_db


def test_prune_task_is_scheduled():
    assert SCHEDULE["idempotency-prune"]["task"] == "api.tasks.idempotency_records_prune"


def test_prune_deletes_only_expired_answers(owner):
    old = IdempotencyRecord.objects.create(**_record(owner, "old"))
    fresh = IdempotencyRecord.objects.create(**_record(owner, "fresh"))
    IdempotencyRecord.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - IDEMPOTENCY_TTL - timedelta(minutes=1)
    )
    assert idempotency_records_prune.apply().get() == 1
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert idempotency_records_prune.apply().get() == 0


def _record(user, key):
    return {"user": user, "principal": f"user:{user.pk}", "key": key, "request_hash": "f" * 64}
