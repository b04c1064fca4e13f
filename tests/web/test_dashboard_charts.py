"""The dashboard's charts: expiries ahead, review lead time against the target, drift over time."""

import re
from datetime import date, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalPackage, PackageState
from approvals.services import agent_suspend
from audit.actors import Actor
from signoffs.models import Decision
from tests.factories import AgentFactory, DriftFindingFactory
from web import charts, selectors

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
PLOT_HEIGHT = charts.HEIGHT - charts.TOP - charts.BOTTOM


def approved(agent, owner, *, version, expires_in_days, tier="high"):
    return ApprovalPackage.objects.create(
        agent=agent,
        version=version,
        state=PackageState.APPROVED,
        manifest={},
        digest=f"{version:064d}",
        risk_tier=tier,
        created_by=owner,
        submitted_by=owner,
        submitted_at=NOW - timedelta(days=30),
        approved_at=NOW - timedelta(days=29),
        expires_at=NOW + timedelta(days=expires_in_days),
    )


def by_slug(user):
    return {chart.slug: chart for chart in charts.dashboard_charts(user, now=NOW)}


def test_expiries_are_counted_by_week_and_tier_for_the_agents_one_may_see(owner, other_owner):
    mine = [AgentFactory(slug=f"mine-{n}", owners=[owner]) for n in range(5)]
    approved(mine[0], owner, version=1, expires_in_days=1, tier="critical")
    approved(mine[1], owner, version=1, expires_in_days=3)
    approved(mine[2], owner, version=1, expires_in_days=40, tier="low")
    approved(mine[3], owner, version=1, expires_in_days=95)  # past the 13 weeks
    approved(mine[4], owner, version=1, expires_in_days=-2)  # already expired
    theirs = AgentFactory(slug="theirs", team="finance", owners=[other_owner])
    approved(theirs, other_owner, version=1, expires_in_days=2)
    chart = by_slug(owner)["expiry"]
    assert chart.head == ["Week from", "Critical", "High", "Medium", "Low", "Total"]
    assert chart.rows[0][1:] == ["1", "1", "0", "0", "2"]
    assert chart.rows[5][1:] == ["0", "0", "0", "1", "1"]
    assert sum(int(row[-1]) for row in chart.rows) == 3
    assert chart.description.startswith("3 approvals expire in the next 91 days; the most, 2,")
    bars = [shape for shape in chart.shapes if shape.kind == "rect"]
    assert sorted(bar.css for bar in bars) == ["bar critical", "bar high", "bar low"]
    assert "Week of" in bars[0].title and not chart.empty


def _lead_times(workflow, agent, *, iam_days: int, security_days: int):
    """Decide IAM `iam_days` and security `security_days` after the submission."""
    package = workflow.submit(agent)
    workflow.decide(package, "iam")
    workflow.decide(package, "security")
    submitted = NOW - timedelta(days=10)
    ApprovalPackage.objects.filter(pk=package.pk).update(submitted_at=submitted)
    Decision.objects.filter(signoff__dimension="iam").update(
        created_at=submitted + timedelta(iam_days)
    )
    Decision.objects.filter(signoff__dimension="security").update(
        created_at=submitted + timedelta(security_days)
    )
    chart = by_slug(workflow.owner)["lead-time"]
    bars = {shape.title.split(":")[0]: shape.css for shape in chart.shapes if "bar" in shape.css}
    return chart, {row[0]: row[1:] for row in chart.rows}, bars


def test_lead_time_per_dimension_against_the_target(workflow, agent, settings):
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "REVIEW_SLA_DAYS": 5,
        "REVIEW_SLA_DAYS_BY_DIMENSION": {},
    }
    chart, rows, bars = _lead_times(workflow, agent, iam_days=8, security_days=2)
    assert rows["IAM"] == ["5 d", "1", "8.0 d", "8.0 d", "1"]
    assert rows["Security"] == ["5 d", "1", "2.0 d", "2.0 d", "0"]
    assert rows["PAM"] == ["5 d", "0", "–", "–", "0"]
    assert chart.head == ["Dimension", "Target", "Decisions", "Average", "Longest", "Over target"]
    assert "against a target of 5 days: IAM took longer on average" in chart.description
    assert bars == {"IAM": "bar late", "Security": "bar on-time"}
    targets = [shape for shape in chart.shapes if shape.css == "target"]
    assert len(targets) == 4 and len({shape.x for shape in targets}) == 1
    # No centred label runs past the picture's edge (12px text: under 7px a character).
    for label in (shape for shape in chart.shapes if shape.css == "axis middle"):
        assert label.x + len(label.text) * 7 / 2 <= chart.width, label


def test_each_dimension_is_drawn_against_its_own_target(workflow, agent, settings):
    """IAM's 8 days are within its 10; security's 3 days are over its 2."""
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "REVIEW_SLA_DAYS": 5,
        "REVIEW_SLA_DAYS_BY_DIMENSION": {"iam": 10, "security": 2},
    }
    chart, rows, bars = _lead_times(workflow, agent, iam_days=8, security_days=3)
    assert rows["IAM"] == ["10 d", "1", "8.0 d", "8.0 d", "0"]
    assert rows["Security"] == ["2 d", "1", "3.0 d", "3.0 d", "1"]
    assert rows["PAM"][0] == rows["Compliance"][0] == "5 d"
    assert bars == {"IAM": "bar on-time", "Security": "bar late"}
    assert "each dimension's target (IAM 10 d, PAM 5 d, Security 2 d, Compliance 5 d)" in (
        chart.description
    )
    assert "Security took longer on average" in chart.description
    targets = {round(shape.y): shape.x for shape in chart.shapes if shape.css == "target"}
    iam, pam, security, _ = (targets[y] for y in sorted(targets))
    assert iam > pam > security
    labels = [shape.text for shape in chart.shapes if "target-label" in shape.css]
    assert labels == ["10 d", "5 d", "2 d", "5 d"]


def test_lead_time_figures_are_reused_until_the_next_decision(
    workflow, agent, django_assert_num_queries
):
    """The aggregate runs once; a new decision is in the next chart, never a stale one."""
    chart, rows, _ = _lead_times(workflow, agent, iam_days=8, security_days=2)
    assert rows["PAM"][1] == "0"
    slas = charts.review_slas()
    with django_assert_num_queries(1):  # the newest decision and setting aside
        kept = charts.lead_time_rows(workflow.owner, now=NOW, slas=slas)
    assert set(kept) == {"iam", "security"} and kept["iam"]["n"] == 1
    workflow.decide(ApprovalPackage.objects.get(agent=agent), "pam")
    rows = {row[0]: row[1:] for row in by_slug(workflow.owner)["lead-time"].rows}
    assert rows["PAM"][1] == "1" and rows["IAM"][1] == "1"


def test_lead_time_counts_no_decision_a_suspension_set_aside(workflow, agent, staff):
    """The IAM sign-off is decided 8 days after submission: the decision of day 1 no longer
    counts, so it is neither a second decision nor a shorter lead."""
    package = workflow.submit(agent)
    first = workflow.decide(package, "iam")
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 54.")
    again = workflow.decide(package, "iam")
    submitted = NOW - timedelta(days=10)
    ApprovalPackage.objects.filter(pk=package.pk).update(submitted_at=submitted)
    Decision.objects.filter(pk=first.pk).update(created_at=submitted + timedelta(days=1))
    Decision.objects.filter(pk=again.pk).update(created_at=submitted + timedelta(days=8))
    rows = {row[0]: row[1:] for row in by_slug(workflow.owner)["lead-time"].rows}
    assert rows["IAM"][1:4] == ["1", "8.0 d", "8.0 d"]


def test_lead_time_figures_drop_at_once_the_decisions_a_suspension_sets_aside(
    workflow, agent, staff
):
    """The chart drawn before a suspension is not reused after it: a suspension makes no
    decision, yet the decisions it sets aside count no more."""
    package = workflow.submit(agent)
    workflow.decide(package, "iam")
    rows = {row[0]: row[1:] for row in by_slug(workflow.owner)["lead-time"].rows}
    assert rows["IAM"][1] == "1"
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 54.")
    rows = {row[0]: row[1:] for row in by_slug(workflow.owner)["lead-time"].rows}
    assert rows["IAM"][1:4] == ["0", "–", "–"]


# A cache nothing listens at, for the chart alone: the fixtures clear the real one after.
UNREACHABLE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


def test_lead_time_chart_is_drawn_when_the_cache_is_down(workflow, agent, caplog):
    with override_settings(CACHES=UNREACHABLE_CACHE):
        _, rows, bars = _lead_times(workflow, agent, iam_days=8, security_days=2)
    assert rows["IAM"][1:3] == ["1", "8.0 d"] and set(bars) == {"IAM", "Security"}
    assert "lead-time chart not cached" in caplog.text


def test_drift_findings_by_the_week_they_were_first_seen(owner, other_owner):
    agent = AgentFactory(slug="drifting", owners=[owner])
    for days_ago, severity in [(0, "critical"), (1, "high"), (8, "high"), (100, "low")]:
        DriftFindingFactory(
            agent=agent,
            identifier=f"tool-{days_ago}",
            severity=severity,
            first_seen=NOW - timedelta(days=days_ago),
        )
    theirs = AgentFactory(slug="theirs", team="finance", owners=[other_owner])
    DriftFindingFactory(agent=theirs, first_seen=NOW)
    chart = by_slug(owner)["drift"]
    assert chart.rows[-1][1:] == ["1", "1", "0", "0", "2"]
    assert chart.rows[-2][1:] == ["0", "1", "0", "0", "1"]
    assert chart.description.startswith("3 drift findings were first seen in the last 13 weeks")


@pytest.mark.parametrize("slug", ["expiry", "drift"])
def test_every_other_week_is_dated_on_a_desktop_and_every_fourth_on_a_phone(owner, slug):
    """Seven dates under the 13 weeks, the first and the last among them; a phone's larger
    labels keep four of them, the stylesheet hiding those marked `between`."""
    chart = by_slug(owner)[slug]
    weeks = [date.fromisoformat(row[0]) for row in chart.rows]
    dates = [shape for shape in chart.shapes if shape.kind == "text" and "middle" in shape.css]
    assert [shape.text for shape in dates] == [f"{week:%d %b}" for week in weeks[::2]]
    phone = [shape.text for shape in dates if "between" not in shape.css.split()]
    assert phone == [f"{week:%d %b}" for week in weeks[::4]]
    assert phone[0] == f"{weeks[0]:%d %b}" and phone[-1] == f"{weeks[-1]:%d %b}"


def test_three_queries_whatever_the_number_of_rows(owner, django_assert_num_queries):
    agents = [AgentFactory(slug=f"many-{n}", owners=[owner]) for n in range(30)]

    def add(first, last):
        for n in range(first, last):
            approved(agents[n], owner, version=1, expires_in_days=n * 2)
            DriftFindingFactory(agent=agents[n], first_seen=NOW - timedelta(days=n))

    add(0, 5)
    charts.dashboard_charts(owner, now=NOW)  # reads, once per request, which agents are visible
    with django_assert_num_queries(3):
        small = charts.dashboard_charts(owner, now=NOW)
    add(5, 30)
    with django_assert_num_queries(3):
        large = charts.dashboard_charts(owner, now=NOW)
    assert small[0].rows != large[0].rows


def test_the_dashboard_draws_accessible_svg_without_inline_styles(client, owner):
    approved(AgentFactory(slug="soon", owners=[owner]), owner, version=1, expires_in_days=4)
    client.force_login(owner)
    html = client.get(reverse("dashboard")).content.decode()
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == 3
    for svg in svgs:
        assert 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg
        assert "style=" not in svg
    assert html.count("The numbers as a table") == 3
    assert '<th scope="row">' in html
    assert "1 approval expires in the next 91 days" in html


def test_an_approval_expiring_at_the_instant_asked_is_no_longer_expiring(owner):
    """The gate denies an approval from its expiry on; neither the chart nor the list of
    approvals expiring soon counts it from that instant, marked expired by the job or not."""
    agents = [AgentFactory(slug=f"mine-{n}", owners=[owner]) for n in range(3)]
    approved(agents[0], owner, version=1, expires_in_days=0)  # at NOW, to the microsecond
    approved(agents[1], owner, version=1, expires_in_days=-2)  # lapsed, not marked yet
    ahead = approved(agents[2], owner, version=1, expires_in_days=3)
    chart = by_slug(owner)["expiry"]
    assert sum(int(row[-1]) for row in chart.rows) == 1
    assert list(selectors.approvals_expiring(owner, now=NOW + timedelta(days=1))) == [ahead]


def test_a_decision_at_its_target_to_the_second_counts_as_late(workflow, agent, settings):
    """From the target on, escalation counts the review late and the fallbacks may take it
    over (`signoffs.sla.overdue_since`); the chart's "over target" counts it as well."""
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "REVIEW_SLA_DAYS": 5,
        "REVIEW_SLA_DAYS_BY_DIMENSION": {},
    }
    _, rows, _ = _lead_times(workflow, agent, iam_days=5, security_days=4.99)
    assert rows["IAM"][-1] == "1"
    assert rows["Security"][-1] == "0"


def axis_labels(html: str, slug: str) -> list[str]:
    """Return the chart's axis labels as drawn, from 0 up: its ticks, not its names or targets."""
    svg = re.search(rf'id="chart-{slug}".*?</svg>', html, re.S).group(0)
    texts = re.findall(r'<text class="axis (?:end|middle)" [^>]*>([^<]*)</text>', svg)
    return [text for text in texts if re.fullmatch(r"[\d.]+( d)?", text)]


def test_small_counts_are_drawn_on_whole_number_axes(client, owner, settings):
    """Three approvals in a week and no findings: a count axis reads 0 to 4 one by one, never
    1.25 or 2.5 approvals; the lead-time axis measures days in round steps."""
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "REVIEW_SLA_DAYS": 1,
        "REVIEW_SLA_DAYS_BY_DIMENSION": {},
    }
    for n in range(3):
        approved(AgentFactory(slug=f"few-{n}", owners=[owner]), owner, version=1, expires_in_days=2)
    client.force_login(owner)
    html = client.get(reverse("dashboard")).content.decode()
    assert axis_labels(html, "expiry") == ["0", "1", "2", "3", "4"]
    assert axis_labels(html, "drift") == ["0", "1", "2", "3", "4"]  # none at all
    assert axis_labels(html, "lead-time") == ["0 d", "0.5 d", "1 d", "1.5 d"]
    bars = re.findall(r'<rect class="bar high" [^>]*height="([\d.]+)"', html)
    assert [float(height) for height in bars] == [pytest.approx(PLOT_HEIGHT * 3 / 4, abs=0.1)]
