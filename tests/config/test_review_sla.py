"""The review targets: one default, a dimension's own from the environment, read in one place."""

from signoffs.models import Dimension
from signoffs.sla import review_sla_days, review_slas
from tests.environment import read_under


def _settings_under(env: dict) -> dict:
    """Return the review targets the settings read from an environment."""
    return read_under(
        env,
        "review_slas()",
        cleared="REVIEW_SLA_DAYS",
        imports="from signoffs.sla import review_slas",
    )


def test_every_dimension_takes_the_default_unless_it_has_its_own(settings):
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "REVIEW_SLA_DAYS": 4,
        "REVIEW_SLA_DAYS_BY_DIMENSION": {"compliance": 9},
    }
    assert review_slas() == {"iam": 4, "pam": 4, "security": 4, "compliance": 9}
    assert review_sla_days("compliance") == 9


def test_the_environment_sets_the_default_and_a_dimensions_own():
    assert _settings_under({"REVIEW_SLA_DAYS": "6", "REVIEW_SLA_DAYS_PAM": "2"}) == {
        "iam": 6,
        "pam": 2,
        "security": 6,
        "compliance": 6,
    }


def test_the_environment_sets_each_dimensions_own():
    own = {dimension: position + 1 for position, dimension in enumerate(Dimension.values)}
    env = {f"REVIEW_SLA_DAYS_{dimension.upper()}": str(days) for dimension, days in own.items()}
    assert _settings_under(env) == own
