"""While WEBHOOK_SECRET rotates, each webhook is signed under the new and the old secret.

A real worker signs and sends the deliveries; docs/api.md's receiver check is
run as written on what arrives.
"""

import hashlib
import hmac
import re
from pathlib import Path

import pytest

from tests.jobs.conftest import WEBHOOK_SECRET, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
NEW_SECRET = "webhook-secret-after-the-rotation"


def documented_check():
    """Return docs/api.md's receiver check, `signed_by(secret, body, header)`."""
    section = (ROOT / "docs" / "api.md").read_text(encoding="utf-8").split("\n## Webhooks\n")[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - the documentation's own example
    return namespace["signed_by"]


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_delivery_carries_a_signature_under_each_secret(
    workflow, agent, celery_worker, receivers
):
    receiver = receivers()
    celery_worker(
        WEBHOOK_URLS=receiver.url,
        WEBHOOK_SECRET=NEW_SECRET,
        WEBHOOK_SECRET_FALLBACKS=WEBHOOK_SECRET,
    )
    workflow.submit(agent)
    (request,) = wait_for(lambda: receiver.requests, message="the webhook delivery")
    body, header = request["body"], request["headers"]["X-Countersign-Signature"]
    assert header == f"{signature(NEW_SECRET, body)},{signature(WEBHOOK_SECRET, body)}"

    signed_by = documented_check()
    # A receiver still on the old secret and one already on the new accept it alike.
    assert signed_by(WEBHOOK_SECRET.encode(), body, header)
    assert signed_by(NEW_SECRET.encode(), body, header)
    assert not signed_by(b"a-secret-nobody-was-given", body, header)
    assert not signed_by(NEW_SECRET.encode(), body + b" ", header)


def test_outside_a_rotation_the_documented_check_takes_the_one_signature(
    workflow, agent, celery_worker, receivers
):
    receiver = receivers()
    celery_worker(WEBHOOK_URLS=receiver.url)
    workflow.submit(agent)
    (request,) = wait_for(lambda: receiver.requests, message="the webhook delivery")
    body, header = request["body"], request["headers"]["X-Countersign-Signature"]
    assert header == signature(WEBHOOK_SECRET, body)
    assert documented_check()(WEBHOOK_SECRET.encode(), body, header)
    assert not documented_check()(NEW_SECRET.encode(), body, header)
