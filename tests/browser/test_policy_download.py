"""The approved package's page offers its Cedar bundle and signature; both download and verify."""

import base64
import json
from pathlib import Path

import pytest

from audit import signing

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_owner_downloads_the_bundle_and_its_signature(workflow, agent, sign_in, shots):
    package = workflow.approve(agent)
    page = sign_in("owner")
    page.goto(page.url.rstrip("/") + f"/agents/{agent.slug}/v{package.version}/")
    section = page.get_by_test_id("runtime-policy")
    section.scroll_into_view_if_needed()
    shots(page, "package-runtime-policy")
    with page.expect_download() as bundle_download:
        section.get_by_role("link", name="Download the Cedar policy bundle").click()
    with page.expect_download() as signature_download:
        section.get_by_role("link", name="Its signature").click()
    body = Path(bundle_download.value.path()).read_bytes()
    signature = Path(signature_download.value.path()).read_text().strip()
    assert bundle_download.value.suggested_filename == f"{agent.slug}.cedar.json"
    assert json.loads(body)["digest"] == package.digest
    signing.public_key().verify(base64.b64decode(signature), body)
