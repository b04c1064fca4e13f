"""The rules of the release workflow that the settings tune: quorum, lifetime, kill-switch age."""

from datetime import date, datetime, timedelta

from django.conf import settings

from agents.models import Agent
from agents.usage import enforcement_seen
from approvals.manifest import Enforcement, compute_risk_tier, latest_test_date
from approvals.models import ApprovalPackage, RiskTier


def _settings() -> dict:
    return settings.COUNTERSIGN


def kill_switch_problem(package: ApprovalPackage, today: date) -> str:
    """Return why the package's kill switch is too stale to approve, or ''."""
    if package.risk_tier not in (RiskTier.HIGH, RiskTier.CRITICAL):
        return ""
    max_age = _settings()["KILL_SWITCH_TEST_MAX_AGE_DAYS"]
    tested = package.manifest["kill_switch"].get("last_tested")
    if not tested:
        return f"A {package.risk_tier} package needs a kill-switch test date."
    day = date.fromisoformat(tested)
    if day > latest_test_date(today):
        # Stored before manifests refused it: it would count as fresh until that day.
        return f"The kill switch test date {tested} is in the future."
    if (today - day).days > max_age:
        return f"The kill switch was last tested {tested}, more than {max_age} days ago."
    return ""


def required_approvals(risk_tier: str, dimension: str) -> int:
    return _settings()["REQUIRED_APPROVALS"].get(risk_tier, {}).get(dimension, 1)


def approval_lifetime(package: ApprovalPackage) -> timedelta:
    """Return how long an approval lasts: the tier's interval or the shorter one asked for."""
    days = _settings()["RECERTIFICATION_DAYS"][package.risk_tier]
    asked = package.manifest.get("approval_valid_days")
    return timedelta(days=min(days, asked) if asked else days)


def approval_expiry(package: ApprovalPackage, now: datetime) -> datetime:
    """Return when the package's approval, given now, expires.

    A review that carried sign-offs over did not re-read those dimensions, so its
    approval expires no later than the one it carried them from; within that, the
    package's own lifetime (a shorter `approval_valid_days` too) holds.
    """
    expires_at = now + approval_lifetime(package)
    if package.base_id is not None and package.review_plan.get("carried_over"):
        return min(package.base.expires_at, expires_at)
    return expires_at


def recertification_lead() -> timedelta:
    """Return how long before an approval's expiry its re-certification is due."""
    return timedelta(days=_settings()["RECERTIFICATION_LEAD_DAYS"])


def enforcement_of(agent: Agent) -> Enforcement:
    """Return whether the agent's enforcement point was seen asking the decision point in
    the last ENFORCEMENT_PROVEN_DAYS days: a fact its risk tier is computed with."""
    days = _settings()["ENFORCEMENT_PROVEN_DAYS"]
    return Enforcement(enforcement_seen(agent, days), days)


# The fields `package_rate` sets.
RATING_FIELDS = ["risk_tier", "enforcement_proven", "enforcement_days"]


def package_rate(package: ApprovalPackage, agent: Agent) -> None:
    """Set the package's risk tier from its manifest and the runtime's enforcement fact."""
    enforcement = enforcement_of(agent)
    package.enforcement_proven, package.enforcement_days = enforcement.proven, enforcement.days
    package.risk_tier = compute_risk_tier(package.manifest, enforcement)
