"""First sign-ins racing: one whose username another account, in any case, takes after its
check is refused as a taken name, not a 500; two of one provider account sign in the one
user the first created."""

import pytest
from django.contrib.auth import get_user_model

from config.errors import AlreadyExists
from identity.mapping import group_map
from identity.models import ProviderIdentity
from identity.services import provider_user_sign_in
from tests.concurrency import raced

pytestmark = pytest.mark.django_db(transaction=True)
ISSUER = "https://idp.example.com"


@pytest.mark.parametrize("held", ["ines", "Ines"])
def test_a_name_taken_between_the_check_and_the_insert_is_refused_cleanly(held):
    """Another account of the name, in any case, created and not yet committed: the
    sign-in's check does not see it, and its insert waits for it."""
    mapping = group_map()

    errors = raced(
        lambda: get_user_model().objects.create_user(username=held),
        lambda: _sign_in("sub-second", "ines", mapping),
    )

    assert [type(error) for error in errors] == [AlreadyExists]
    assert errors[0].fields == {"username": ["A user with that username already exists."]}
    assert list(get_user_model().objects.values_list("username", flat=True)) == [held]
    assert not ProviderIdentity.objects.exists()


def _sign_in(subject: str, username: str, mapping, email: str = ""):
    return provider_user_sign_in(
        issuer=ISSUER,
        subject=subject,
        username=username,
        email=email,
        rights=mapping.rights([]),
        mapping=mapping,
    )


@pytest.mark.parametrize(
    ("first_name", "second_name"),
    [
        # The second's new user waits for the first's, which takes the username.
        ("ines", "ines"),
        # The provider's name for the account changed between the two: the second's new user
        # stands beside the first's, and its link waits for the first's.
        ("ines", "ines.r"),
    ],
)
def test_two_first_sign_ins_of_one_account_at_once_sign_in_one_user(
    audit_since, first_name, second_name
):
    """Both find no link before either commits one; the second is signed in as the account
    the first created, as if it had come after it."""
    mapping = group_map()
    users = [None, None]
    since = audit_since()

    def sign_in(index, username):
        def run():
            users[index] = _sign_in("sub-ines", username, mapping, email="ines@example.com")

        return run

    errors = raced(sign_in(0, first_name), sign_in(1, second_name))

    assert not errors, errors
    link = ProviderIdentity.objects.select_related("user").get()
    assert (link.issuer, link.subject, link.user.username) == (ISSUER, "sub-ines", first_name)
    assert [user.pk for user in users] == [link.user.pk, link.user.pk]
    assert list(get_user_model().objects.values_list("username", flat=True)) == [first_name]
    assert [e.action for e in since()] == ["user.created"]
