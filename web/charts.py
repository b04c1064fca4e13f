"""The dashboard's charts: what they show, read in one aggregate query each, drawn as SVG shapes.

Each chart is a `Chart`: the shapes of a server-rendered SVG (`templates/dashboard/
_charts.html` draws them; colours come from the stylesheet by class, so nothing
is inline), a title and a one-sentence description for screen readers, and the
same numbers as a table. The queries group by day in the database and return at
most one row per day and category, so a chart costs one query whatever the
number of packages, decisions or findings; the lead-time chart asks first for
the newest decision and the latest setting aside, which tell whether its cached figures
still hold.
"""

import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

from django.core.cache import cache
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone
from redis.exceptions import RedisError

from agents.vocabulary import RiskTier
from approvals.models import ApprovalPackage, DriftFinding, Severity
from approvals.selectors import in_force
from signoffs.models import Decision, Dimension, standing_condition
from signoffs.sla import review_slas
from web.selectors import agents_visible

# The charts' spans: the next 13 weeks of expiries, the last 13 weeks of findings
# and the last 90 days of decisions.
WEEKS = 13
LEAD_TIME_DAYS = 90
# How long the lead-time chart's figures may be reused while no decision is made or set aside.
LEAD_TIME_CACHE_SECONDS = 300

logger = logging.getLogger(__name__)

# The height leaves the lead-time chart's bands room for a name and its target, one above
# the other, at the largest size a phone draws them.
WIDTH, HEIGHT = 440, 260
# The margins hold the axis labels at the largest size a phone draws them, 19 units at
# 320 px wide (the stylesheet's `.chart text`): a y label of three digits and a unit
# ("800M", `tick_label`) left of the plot, the last week's date or half the last lead time
# ("250 d") below its right edge.
LEFT, RIGHT, TOP, BOTTOM = 60, 30, 16, 40
# How far below the plot the x axis's labels stand: clear of the y axis's lowest label.
BELOW = 30
# Every other week has its date below it: 7 on the 13 weeks, the first and the last among
# them. A phone's larger labels need twice the room: the stylesheet hides those `between`,
# every fourth week's date stays.
DATE_EVERY = 2
# The most steps on an axis (`ticks`): their labels stay apart at the phone's 19 units.
MOST_STEPS = 5
# The weekly counts' axes reach at least this far: one approval or finding is a short
# column, not the plot's whole height.
LEAST_COUNT_TOP = 4
# Where the lead-time chart's bars start, right of the dimensions' names ("Compliance").
NAMES = 120


@dataclass
class Shape:
    """One SVG element: `kind` is rect, line or text; `title` is its tooltip."""

    kind: str
    css: str
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0
    x2: float = 0
    y2: float = 0
    text: str = ""
    title: str = ""


@dataclass
class Chart:
    slug: str
    title: str
    description: str
    legend: list[tuple[str, str]]
    head: list[str]
    rows: list[list[str]]
    shapes: list[Shape] = field(default_factory=list)
    empty: bool = False
    width: int = WIDTH
    height: int = HEIGHT


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def ticks(maximum: float, *, whole: bool = True) -> list[float]:
    """Return an axis's ticks: 0 up to the first at or above `maximum`, in equal round steps.

    A step is 1, 2 or 5 times a power of ten, the smallest that reaches `maximum`
    in at most `MOST_STEPS` steps, so the top tick is less than a step above it.
    A `whole` axis counts things: its step is at least 1 and its ticks are ints.
    Any other steps by a tenth at least, the precision of the charts' tables.
    A maximum of 0 gives the axis 0 to one step.
    """
    # The maximum as written (`repr`): 0.8 is four fifths, not the binary float just above it.
    peak = Fraction(repr(max(maximum, 0)))
    exponent = 0 if whole else -1
    while True:
        for mantissa in (1, 2, 5):
            step = mantissa * Fraction(10) ** exponent
            steps = max(1, math.ceil(peak / step))
            if steps <= MOST_STEPS:
                values = [step * index for index in range(steps + 1)]
                return [int(value) if whole else float(value) for value in values]
        exponent += 1


def _tenths(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


# The units large counts are written in, largest first. A count is of a table's rows,
# and a PostgreSQL table (32 TB at most) holds far fewer than a thousand trillion.
COUNT_UNITS = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "k"))
# The most characters a count's label has (`tick_label`): the margin left of the plot
# holds this many.
COUNT_LABEL_CHARS = 4


def tick_label(value: float, unit: str = "") -> str:
    """Return a tick's label: a count's digits, any other value to the tenth, "2" not "2.0".

    A count from a thousand on is written in the largest unit it reaches, from
    thousands ("1.5k", "20k") to trillions ("2.5T"), so it has at most three digits
    and a letter (`COUNT_LABEL_CHARS`): four digits are wider than the margin left
    of the plot at a phone's size. A count's ticks from there on are multiples of
    a tenth of that unit (`ticks`), so the tenths are exact.
    """
    if not isinstance(value, int):
        return _tenths(value) + unit
    for size, suffix in COUNT_UNITS:
        if value >= size:
            return _tenths(value / size) + suffix + unit
    return str(value) + unit


def _y_axis(values: list[float]) -> list[Shape]:
    """Return the horizontal grid lines and labels of a count axis with these ticks."""
    shapes = []
    plot, top = HEIGHT - TOP - BOTTOM, values[-1]
    for value in values:
        y = TOP + plot - plot * value / top
        shapes.append(Shape("line", "grid", x=LEFT, y=y, x2=WIDTH - RIGHT, y2=y))
        shapes.append(Shape("text", "axis end", x=LEFT - 6, y=y + 4, text=tick_label(value)))
    return shapes


def _stacked_weeks(
    weeks: list[date], counts: list[dict[str, int]], series: list[tuple[str, str]], what: str
) -> list[Shape]:
    """Return one stacked column per week, a series' count in each layer."""
    values = ticks(max([sum(week.values()) for week in counts] + [LEAST_COUNT_TOP]))
    top = values[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(weeks)
    shapes = _y_axis(values)
    for index, (start, week) in enumerate(zip(weeks, counts, strict=True)):
        x = LEFT + slot * index + slot * 0.15
        base = TOP + plot_h
        for value, label in series:
            n = week.get(value, 0)
            if not n:
                continue
            height = plot_h * n / top
            base -= height
            title = f"Week of {start:%d %b}: {n} {label.lower()} {what}"
            shapes.append(
                Shape(
                    "rect",
                    f"bar {value}",
                    x=x,
                    y=base,
                    width=slot * 0.7,
                    height=height,
                    title=title,
                )
            )
        if index % DATE_EVERY == 0:
            between = index % (DATE_EVERY * 2) != 0
            shapes.append(
                Shape(
                    "text",
                    "axis middle between" if between else "axis middle",
                    x=x + slot * 0.35,
                    y=HEIGHT - BOTTOM + BELOW,
                    text=f"{start:%d %b}",
                )
            )
    return shapes


def _by_week(rows, first: date, column: str) -> tuple[list[date], list[dict[str, int]]]:
    """Return the weeks from `first` and each one's count per category of `column`."""
    weeks = [first + timedelta(weeks=index) for index in range(WEEKS)]
    counts: list[dict[str, int]] = [{} for _ in weeks]
    for row in rows:
        index = (row["day"] - first).days // 7
        if 0 <= index < WEEKS:
            counts[index][row[column]] = counts[index].get(row[column], 0) + row["n"]
    return weeks, counts


def _table(weeks, counts, series) -> list[list[str]]:
    return [
        [
            f"{start:%Y-%m-%d}",
            *(str(week.get(value, 0)) for value, _ in series),
            str(sum(week.values())),
        ]
        for start, week in zip(weeks, counts, strict=True)
    ]


def expiry_timeline(user, *, now: datetime) -> Chart:
    """Return the approvals expiring over the next 13 weeks, by week and risk tier."""
    today = timezone.localdate(now)
    end = now + timedelta(weeks=WEEKS)
    rows = (
        ApprovalPackage.objects.filter(
            in_force(now), agent__in=agents_visible(user), expires_at__lt=end
        )
        .annotate(day=TruncDate("expires_at"))
        .values("day", "risk_tier")
        .annotate(n=Count("pk"))
        .order_by()
    )
    weeks, counts = _by_week(rows, today, "risk_tier")
    series = list(RiskTier.choices)[::-1]
    total = sum(sum(week.values()) for week in counts)
    busiest = max(range(WEEKS), key=lambda index: sum(counts[index].values()))
    verb = "expires" if total == 1 else "expire"
    description = f"{_count(total, 'approval')} {verb} in the next {WEEKS * 7} days" + (
        f"; the most, {sum(counts[busiest].values())}, in the week of {weeks[busiest]:%d %B}."
        if total
        else "."
    )
    return Chart(
        slug="expiry",
        title=f"Approvals expiring over the next {WEEKS * 7} days, by week",
        description=description,
        legend=[(value, label) for value, label in series],
        head=["Week from", *(label for _, label in series), "Total"],
        rows=_table(weeks, counts, series),
        shapes=_stacked_weeks(weeks, counts, series, "approvals expire"),
        empty=not total,
    )


def drift_over_time(user, *, now: datetime) -> Chart:
    """Return the drift findings first seen in each of the last 13 weeks, by severity."""
    today = timezone.localdate(now)
    first = today - timedelta(weeks=WEEKS) + timedelta(days=1)
    rows = (
        DriftFinding.objects.filter(
            agent__in=agents_visible(user),
            first_seen__gte=datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo),
        )
        .annotate(day=TruncDate("first_seen"))
        .values("day", "severity")
        .annotate(n=Count("pk"))
        .order_by()
    )
    weeks, counts = _by_week(rows, first, "severity")
    series = list(Severity.choices)[::-1]
    total = sum(sum(week.values()) for week in counts)
    latest = sum(counts[-1].values())
    return Chart(
        slug="drift",
        title=f"Drift findings first seen over the last {WEEKS} weeks",
        description=(
            f"{_count(total, 'drift finding')} {'was' if total == 1 else 'were'} first seen "
            f"in the last {WEEKS} weeks, "
            f"{latest} of them in the last week."
        ),
        legend=[(value, label) for value, label in series],
        head=["Week from", *(label for _, label in series), "Total"],
        rows=_table(weeks, counts, series),
        shapes=_stacked_weeks(weeks, counts, series, "findings first seen"),
        empty=not total,
    )


def _days(delta: timedelta | None) -> float:
    return delta.total_seconds() / 86400 if delta else 0.0


def _lead_time_rows(user, *, now: datetime, slas: dict[str, int]) -> dict[str, dict]:
    """Return each dimension's decision count, average and longest lead, and how many were late.

    A decision a suspension set aside is no decision of the sign-off: the one made again
    measures its lead.
    """
    lead = ExpressionWrapper(
        F("created_at") - F("signoff__package__submitted_at"), output_field=DurationField()
    )
    late = Q()
    for dimension, days in slas.items():
        # Late from the target on. The lead counts from the submission, also for a sign-off a
        # suspension or a lapsed approval re-opened (whose overdue counts from the re-opening,
        # `signoffs.sla.overdue_since`): the chart shows how long a version waited for its
        # decisions, and a re-opening lengthens that wait.
        late |= Q(signoff__dimension=dimension, lead__gte=timedelta(days=days))
    return {
        row["signoff__dimension"]: row
        for row in Decision.objects.standing()
        .filter(
            signoff__package__agent__in=agents_visible(user),
            signoff__package__submitted_at__isnull=False,
            created_at__gte=now - timedelta(days=LEAD_TIME_DAYS),
        )
        .annotate(lead=lead)
        .values("signoff__dimension")
        .annotate(
            n=Count("pk"),
            average=Avg("lead"),
            longest=Max("lead"),
            late=Count("pk", filter=late),
        )
        .order_by()
    }


def lead_time_rows(user, *, now: datetime, slas: dict[str, int]) -> dict[str, dict]:
    """Return `_lead_time_rows`, kept in the cache until decisions change or a few minutes.

    The aggregate reads every decision of the window, so it grows with them,
    while its answer changes only when a decision is recorded or a suspension
    sets decisions aside: the newest decision and the latest setting aside (one
    query, the latter on the set-aside decisions' own index) are part of the key.
    The few minutes bound what the key does not hold: the user's visibility
    changing, old decisions leaving the window, and transactions committing out
    of the order of their decisions or suspensions.
    When the cache cannot be reached, the chart is computed.
    """
    latest_set_aside = (
        Decision.objects.exclude(standing_condition())
        .order_by("-set_aside_at")
        .values("set_aside_at")[:1]
    )
    newest = (
        Decision.objects.annotate(set_aside=Subquery(latest_set_aside))
        .order_by("-pk")
        .values_list("pk", "created_at", "set_aside")
        .first()
    )
    if newest is None:
        return {}
    pk, decided, set_aside = newest
    set_aside = set_aside.timestamp() if set_aside else "none"
    targets = ",".join(f"{name}={days}" for name, days in sorted(slas.items()))
    key = f"charts:lead-time:{user.pk}:{pk}:{decided.timestamp()}:{set_aside}:{targets}"
    try:
        rows = cache.get(key)
    except RedisError:
        rows = None
    if rows is None:
        rows = _lead_time_rows(user, now=now, slas=slas)
        try:
            cache.set(key, rows, LEAD_TIME_CACHE_SECONDS)
        except RedisError:
            logger.warning("lead-time chart not cached: the cache is unavailable")
    return rows


def review_lead_times(user, *, now: datetime) -> Chart:
    """Return each dimension's time from submission to decision over the last 90 days.

    Every decision counts once: the average and the longest against the
    dimension's own review target (`signoffs.sla`), and how many took longer.
    """
    slas = review_slas()
    rows = lead_time_rows(user, now=now, slas=slas)
    dimensions = list(Dimension.choices)
    longest_shown = [_days(row["longest"]) for row in rows.values()]
    # Days are a measure, not a count: half a day is a lead time, so the axis may step by it.
    values = ticks(max(longest_shown + [max(slas.values()) * 1.2]), whole=False)
    top = values[-1]
    plot_w = WIDTH - NAMES - RIGHT
    band = (HEIGHT - TOP - BOTTOM) / len(dimensions)
    shapes = []
    for value in values:
        x = NAMES + plot_w * value / top
        shapes.append(Shape("line", "grid", x=x, y=TOP, x2=x, y2=HEIGHT - BOTTOM))
        # Each label centred under its line, the last one too: the margin right of the plot
        # holds its half ("250 d"), and one ending at the edge would reach its neighbour.
        text = tick_label(value, " d")
        shapes.append(Shape("text", "axis middle", x=x, y=HEIGHT - BOTTOM + BELOW, text=text))
    table, over = [], []
    for index, (value, label) in enumerate(dimensions):
        row, sla_days = rows.get(value), slas[value]
        y = TOP + band * index
        middle = y + band / 2
        # The name above the middle, its target below: apart at the phone's 19 units too.
        shapes.append(Shape("text", "axis end", x=NAMES - 6, y=middle - 6, text=label))
        shapes.append(
            Shape("text", "axis end target-label", x=NAMES - 6, y=middle + 19, text=f"{sla_days} d")
        )
        target = NAMES + plot_w * sla_days / top
        shapes.append(
            Shape("line", "target", x=target, y=y + band * 0.05, x2=target, y2=y + band * 0.95)
        )
        if row is None:
            shapes.append(Shape("text", "axis", x=NAMES + 4, y=middle + 4, text="no decisions"))
            table.append([label, f"{sla_days} d", "0", "–", "–", "0"])
            continue
        average, longest = _days(row["average"]), _days(row["longest"])
        state = "late" if average > sla_days else "on-time"
        if average > sla_days:
            over.append(label)
        shapes.append(
            Shape(
                "rect",
                f"bar {state}",
                x=NAMES,
                y=y + band * 0.2,
                width=plot_w * average / top,
                height=band * 0.6,
                title=(
                    f"{label}: {average:.1f} days on average over {row['n']} decisions, "
                    f"target {sla_days} days"
                ),
            )
        )
        shapes.append(
            Shape(
                "rect",
                "longest",
                x=NAMES + plot_w * longest / top - 2,
                y=y + band * 0.1,
                width=4,
                height=band * 0.8,
                title=f"{label}: the longest took {longest:.1f} days",
            )
        )
        table.append(
            [
                label,
                f"{sla_days} d",
                str(row["n"]),
                f"{average:.1f} d",
                f"{longest:.1f} d",
                str(row["late"]),
            ]
        )
    decided = sum(row["n"] for row in rows.values())
    targets = sorted(set(slas.values()))
    against = (
        f"a target of {targets[0]} days"
        if len(targets) == 1
        else "each dimension's target ("
        + ", ".join(f"{label} {slas[value]} d" for value, label in dimensions)
        + ")"
    )
    description = f"{_count(decided, 'decision')} in the last {LEAD_TIME_DAYS} days against " + (
        f"{against}: "
        + (
            f"{', '.join(over)} took longer on average."
            if over
            else "every dimension's average is within it."
        )
    )
    return Chart(
        slug="lead-time",
        title=f"Review lead time per dimension against its target, last {LEAD_TIME_DAYS} days",
        description=description,
        legend=[
            ("on-time", "Average within target"),
            ("late", "Average over target"),
            ("longest", "Longest"),
            ("target", "Target (days under each name)"),
        ],
        head=["Dimension", "Target", "Decisions", "Average", "Longest", "Over target"],
        rows=table,
        shapes=shapes,
        empty=not decided,
    )


def dashboard_charts(user, *, now: datetime | None = None) -> list[Chart]:
    """Return the dashboard's charts over what the user may see: three or four queries."""
    now = now or timezone.now()
    return [
        expiry_timeline(user, now=now),
        review_lead_times(user, now=now),
        drift_over_time(user, now=now),
    ]
