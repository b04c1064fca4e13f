"""Two first sign-ins of one username racing: the second is refused as a taken name, not a 500."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from config.errors import AlreadyExists
from identity.mapping import group_map
from identity.models import ProviderIdentity
from identity.services import provider_user_sign_in
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
ISSUER = "https://idp.example.com"


def blocked_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_a_name_taken_between_the_check_and_the_insert_is_refused_cleanly():
    mapping = group_map()
    created, release = threading.Event(), threading.Event()
    raised = []

    def first_sign_in():
        # Another account of the name, created and not yet committed: the check does not see it.
        try:
            with transaction.atomic():
                get_user_model().objects.create_user(username="ines")
                created.set()
                release.wait(30)
        finally:
            connection.close()

    def second_sign_in():
        try:
            provider_user_sign_in(
                issuer=ISSUER,
                subject="sub-second",
                username="ines",
                email="",
                rights=mapping.rights([]),
                mapping=mapping,
            )
        except Exception as error:  # noqa: BLE001 - asserted below
            raised.append(error)
        finally:
            connection.close()

    first = threading.Thread(target=first_sign_in)
    first.start()
    assert created.wait(30)
    second = threading.Thread(target=second_sign_in)
    second.start()
    wait_for(blocked_on_a_lock, message="the second insert waiting for the first")
    release.set()
    first.join(30)
    second.join(30)

    assert [type(error) for error in raised] == [AlreadyExists]
    assert raised[0].fields == {"username": ["Already taken by another account."]}
    assert get_user_model().objects.filter(username__iexact="ines").count() == 1
    assert not ProviderIdentity.objects.exists()
