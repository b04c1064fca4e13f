"""The group mapping's configuration: what it grants, and the errors naming a bad entry."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from identity.mapping import Rights, group_map_parse, provider_groups


def test_a_mapping_grants_groups_staff_and_teams():
    mapping = group_map_parse("g-iam=iam, g-admin=staff,g-people=product-owner,g-people=team:ops")
    assert mapping.rights(["g-people", "g-iam", "other"]) == Rights(
        groups=frozenset({"iam", "product-owner"}), staff=False, teams=frozenset({"ops"})
    )
    assert mapping.rights(["g-admin"]).staff
    assert mapping.teams == {"ops"}


def test_an_empty_mapping_maps_role_groups_of_the_same_name():
    assert group_map_parse("").rights(["iam", "staff", "team:x"]).groups == {"iam"}
    assert not group_map_parse("").rights(["staff"]).staff


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("g-iam", "'g-iam' is not provider-group=target"),
        ("g=auditors", "'auditors' is not a role group"),
        ("g=team:Not A Slug", "'team:Not A Slug' is not a role group"),
    ],
)
def test_a_bad_mapping_names_the_bad_pair(text, named):
    with pytest.raises(ImproperlyConfigured, match="OIDC_GROUP_MAP: ") as raised:
        group_map_parse(text)
    assert named in str(raised.value)


def test_a_bad_mapping_fails_the_configuration_check(settings):
    settings.OIDC_GROUP_MAP = "g=superuser"
    with pytest.raises(SystemCheckError, match="identity.E001"):
        call_command("check")


def test_the_groups_claim_may_be_a_list_or_a_string(settings):
    assert provider_groups({"groups": ["a", "b"]}) == ["a", "b"]
    assert provider_groups({"groups": "a b"}) == ["a", "b"]
    assert provider_groups({}) == []
    settings.OIDC_GROUPS_CLAIM = "roles"
    assert provider_groups({"roles": ["x"], "groups": ["a"]}) == ["x"]
