"""A token about to expire is announced to its user ahead of time, once.

An expired token is refused: the pipeline's gate check fails, and an enforcement
point using it denies every call. The daily job tells the token's user (staff, for
an account without an address) 14 days ahead, by mail and webhook, and records it.
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from audit.actors import Actor
from audit.models import AuditEvent
from config.schedule import SCHEDULE
from outbox.models import Notification
from outbox.services import notification_mail, notification_prepare
from tokens.accounts import service_account_get_or_create
from tokens.models import Scope
from tokens.services import EXPIRY_WARNED, token_revoke
from tokens.tasks import tokens_expiry_warn
from web.audit_words import event_sentence

pytestmark = pytest.mark.django_db


def test_the_warning_is_scheduled():
    assert SCHEDULE["tokens-expiry-warn"]["task"] == "tokens.tasks.tokens_expiry_warn"


def test_tokens_expiring_within_two_weeks_are_announced_once(make_token, owner, staff, agent):
    soon, _ = make_token(owner, Scope.GATE_CHECK, expires_in=timedelta(days=13), agents=[agent])
    make_token(owner, Scope.GATE_CHECK, expires_in=timedelta(days=15), name="later")
    revoked, _ = make_token(owner, Scope.GATE_CHECK, expires_in=timedelta(days=2), name="gone")
    token_revoke(actor=Actor.system("tests"), token=revoked)
    robot = service_account_get_or_create(actor=Actor.system("tests"), username="ci-bot")
    robot.is_staff = True
    robot.save(update_fields=["is_staff"])
    bot, _ = make_token(robot, Scope.GATE_CHECK, expires_in=timedelta(days=1), name="bot")

    assert tokens_expiry_warn.apply().get() == [bot.prefix, soon.prefix]
    assert tokens_expiry_warn.apply().get() == [], "once per token"

    events = {e.data["prefix"]: e for e in AuditEvent.objects.filter(action=EXPIRY_WARNED)}
    assert set(events) == {bot.prefix, soon.prefix}
    event = events[soon.prefix]
    assert event.actor_label == "celery:tokens_expiry_warn"
    assert event.data["agents"] == [agent.slug] and event.data["user"] == "owner"
    assert event_sentence(event) == (
        f"Countersign (tokens expiry warn) warned owner that the API token ci expires "
        f"{event.data['expires_at']}"
    )
    notes = {
        n.payload["data"]["prefix"]: n for n in Notification.objects.filter(event="token.expiring")
    }
    assert notes[soon.prefix].payload["data"]["recipients"] == ["owner@example.com"]
    # The account has no address: staff are told.
    staff_mail = sorted(
        get_user_model()
        .objects.filter(is_staff=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    assert notes[bot.prefix].payload["data"]["recipients"] == staff_mail == ["staff@example.com"]
    notification_prepare(notification_id=notes[soon.prefix].pk)
    notification_mail(notification_id=notes[soon.prefix].pk)
    (sent,) = mail.outbox
    assert sent.subject == "[Countersign] An API token expires soon"
    assert sent.to == ["owner@example.com"]
    assert f"Prefix: {soon.prefix}" in sent.body and f"Agents: {agent.slug}\n" in sent.body
