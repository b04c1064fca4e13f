import pytest

from approvals import manifest as m
from tests.approvals.manifest.helpers import HR, SUPPORT, example_text


@pytest.fixture
def hr() -> dict:
    return m.load_manifest(example_text(HR))


@pytest.fixture
def support() -> dict:
    return m.load_manifest(example_text(SUPPORT))
