"""Times a client sends for an absence or a token's expiry carry their offset, or are refused.

A time without an offset, or a bare date, would be read in the server's zone (UTC):
an absence "until 2026-12-20" would end as that day begins, and a client ahead of or
behind UTC would have its window moved by its offset, with nothing said. Each is a
400 naming the field, and nothing changes.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from signoffs.models import Absence
from tests.api.conftest import error_of
from tests.api.test_tokens_api import TOKENS, signed_in
from tokens.models import ApiToken, Scope

pytestmark = pytest.mark.django_db

IN_3_DAYS = timezone.now() + timedelta(days=3)
REFUSED = {
    "naive": (IN_3_DAYS.strftime("%Y-%m-%dT%H:%M:%S"), "with a time zone"),
    "a bare date": (IN_3_DAYS.strftime("%Y-%m-%d"), "with a time zone"),
    "no such day": ("2027-02-29T00:00:00Z", "ISO 8601 date-time"),
    "past year 9999 in UTC": ("9999-12-31T23:00:00-05:00", "years 1 to 9999"),
    "before year 1 in UTC": ("0001-01-01T00:30:00+01:00", "years 1 to 9999"),
    "a number": (1893456000, "ISO 8601 date-time"),
}


@pytest.mark.parametrize("field", ["ends_at", "starts_at"])
@pytest.mark.parametrize("case", list(REFUSED))
def test_an_absence_time_without_its_offset_is_refused(api, reviewers, audit_since, field, case):
    sent, words = REFUSED[case]
    body = {"dimension": "iam", "delegate": "iam2", "ends_at": IN_3_DAYS.isoformat()}
    client = api(reviewers["iam"][0])
    since = audit_since()
    response = client.post("/api/v1/absences", {**body, field: sent}, "json")
    assert response.status_code == 400, response.content
    [message] = error_of(response)["fields"][field]
    assert words in message
    assert since() == [] and not Absence.objects.exists()


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_token_expiry_without_its_offset_is_refused(owner, audit_since, case):
    sent, words = REFUSED[case]
    since = audit_since()
    body = {"name": "ci", "scopes": [Scope.GATE_CHECK], "expires_at": sent}
    response = signed_in(owner).post(TOKENS, body, format="json")
    assert response.status_code == 400, response.content
    [message] = error_of(response)["fields"]["expires_at"]
    assert words in message
    assert since() == [] and not ApiToken.objects.exists()


def test_a_time_with_any_offset_is_kept_as_the_same_instant_in_utc(api, reviewers, owner):
    ends = (IN_3_DAYS + timedelta(days=1)).replace(microsecond=0)
    sent = ends.astimezone(timezone.get_fixed_timezone(-(5 * 60 + 30))).isoformat()
    response = api(reviewers["iam"][0]).post(
        "/api/v1/absences", {"dimension": "iam", "delegate": "iam2", "ends_at": sent}, "json"
    )
    assert response.status_code == 201, response.content
    assert Absence.objects.get().ends_at == ends
    body = {"name": "offset", "scopes": [Scope.GATE_CHECK], "expires_at": sent}
    response = signed_in(owner).post(TOKENS, body, format="json")
    assert response.status_code == 201, response.content
    assert ApiToken.objects.get(name="offset").expires_at == ends
