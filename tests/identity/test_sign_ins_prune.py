"""The daily sign-ins prune: expired sessions and sign-in logs past their days go, audited."""

from datetime import timedelta

import pytest
from axes.models import AccessLog
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.verify import audit_verify
from config.schedule import SCHEDULE
from identity.services import SIGN_INS_PRUNED
from identity.tasks import sign_ins_prune_old
from tests.web.test_login import sign_in
from tokens.sessions import BrowserSession
from web.audit_words import event_sentence

pytestmark = pytest.mark.django_db


def test_the_prune_is_scheduled():
    assert SCHEDULE["sign-ins-prune"]["task"] == "identity.tasks.sign_ins_prune_old"


def test_expired_sessions_and_old_sign_in_logs_go_and_the_rest_stays(owner, settings):
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "SIGN_IN_LOG_DAYS": 30}
    gone, kept = Client(), Client()
    for client in (gone, kept):
        assert sign_in(client, "owner").status_code == 302
    gone_key, kept_key = gone.session.session_key, kept.session.session_key
    assert BrowserSession.objects.count() == 2 and AccessLog.objects.count() == 2
    now = timezone.now()
    BrowserSession.objects.filter(session_key=gone_key).update(
        expire_date=now - timedelta(seconds=1)
    )
    first, second = AccessLog.objects.order_by("pk")
    AccessLog.objects.filter(pk=first.pk).update(attempt_time=now - timedelta(days=31))
    before = AuditEvent.objects.count()

    assert sign_ins_prune_old.apply().get() == {"sessions": 1, "sign_in_logs": 1}
    assert list(BrowserSession.objects.values_list("session_key", flat=True)) == [kept_key]
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [second.pk]
    assert kept.get(reverse("dashboard")).status_code == 200, "a live session is untouched"
    (event,) = AuditEvent.objects.filter(action=SIGN_INS_PRUNED)
    assert event.actor_label == "celery:sign_ins_prune_old"
    assert event.data["sessions"] == 1 and event.data["sign_in_logs"] == 1
    assert event.data["days_kept"] == 30
    assert event_sentence(event) == (
        "Countersign (sign ins prune old) deleted 1 sign-in records from before "
        f"{event.data['older_than']} (30 days are kept) and 1 expired sessions"
    )

    assert sign_ins_prune_old.apply().get() == {"sessions": 0, "sign_in_logs": 0}
    assert AuditEvent.objects.count() == before + 1
    assert audit_verify().ok


def test_expired_sessions_alone_leave_no_event(owner):
    client = Client()
    sign_in(client, "owner")
    BrowserSession.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert sign_ins_prune_old.apply().get() == {"sessions": 1, "sign_in_logs": 0}
    assert not AuditEvent.objects.filter(action=SIGN_INS_PRUNED).exists()
