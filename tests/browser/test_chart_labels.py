"""The dashboard's charts read on a phone: from 320 px wide on their axis labels are drawn
at least 11 px high, inside their chart, clear of one another and of the plot, as on a
desktop, and the page does not scroll sideways."""

import pytest

from approvals.models import DriftFinding
from tests.browser.test_phone import phone_page
from tests.browser.test_phone import story as story  # a fixture
from tests.factories import DriftFindingFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each chart text drawn (not hidden by the stylesheet): its font size in the SVG's units
# times the SVG's scale (the pixels it is high on screen), its box, its SVG's box and its
# plot's (the box of the grid lines).
LABELS = """() => [...document.querySelectorAll('.chart svg text')]
    .filter(t => getComputedStyle(t).display !== 'none').map(t => {
  const box = t.getBoundingClientRect(), svg = t.ownerSVGElement.getBoundingClientRect();
  const grid = [...t.ownerSVGElement.querySelectorAll('line.grid')]
    .map(line => line.getBoundingClientRect());
  return {chart: t.closest('.chart').id, text: t.textContent, css: t.getAttribute('class'),
          px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
          box: [box.left, box.top, box.right, box.bottom],
          svg: [svg.left, svg.top, svg.right, svg.bottom],
          plot: [Math.min(...grid.map(g => g.left)), Math.min(...grid.map(g => g.top)),
                 Math.max(...grid.map(g => g.right)), Math.max(...grid.map(g => g.bottom))]};
})"""
# The widest label a count axis has (`web.charts.tick_label`): three digits and the widest
# unit letter. Written into each count chart's top tick label, it returns that label's left
# and right edges, its SVG's left edge and its plot's.
WIDEST_COUNT = "800M"
WIDEST = """widest => ['chart-expiry', 'chart-drift'].map(id => {
  const svg = document.querySelector(`#${id} svg`);
  const label = [...svg.querySelectorAll('text.end')].reduce((a, b) => a.y.baseVal[0].value
    <= b.y.baseVal[0].value ? a : b);
  label.textContent = widest;
  const box = label.getBoundingClientRect(), grid = svg.querySelector('line.grid');
  return {chart: id, left: box.left, right: box.right,
          svg: svg.getBoundingClientRect().left, plot: grid.getBoundingClientRect().left};
})"""
# The page's width beyond the viewport's: what it scrolls sideways.
SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"
# Pixels two boxes may share: a glyph box's rounding, never a letter.
TOUCH = 0.5


def overlap(a, b) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > TOUCH and min(a[3], b[3]) - max(a[1], b[1]) > TOUCH


def crowd_the_axes(story, settings) -> None:
    """Give the axes their widest labels: a drift count in thousands (up to "2.5k"), and
    review lead times in half days ("0 d" to "2.5 d", six labels) against a 2-day target."""
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "REVIEW_SLA_DAYS": 2,
        "REVIEW_SLA_DAYS_BY_DIMENSION": {},
    }
    DriftFinding.objects.bulk_create(
        DriftFindingFactory.build(agent=story.agent, identifier=f"tool-{n}") for n in range(2400)
    )


@pytest.mark.parametrize("crowded", [False, True])
@pytest.mark.parametrize("width", [320, 360, 390, 1280])
def test_chart_labels_are_readable_inside_their_chart_and_apart(
    story, browser, live_server, csp_violations, settings, width, crowded
):
    if crowded:
        crowd_the_axes(story, settings)
    context, page = phone_page(browser, live_server, "security1", csp_violations)
    try:
        page.set_viewport_size({"width": width, "height": 844})
        page.goto(live_server.url + "/")
        labels = page.evaluate(LABELS)
        sideways = page.evaluate(SIDEWAYS)
        widest = page.evaluate(WIDEST, WIDEST_COUNT)
    finally:
        context.close()

    assert {label["chart"] for label in labels} == {
        "chart-expiry",
        "chart-drift",
        "chart-lead-time",
    }
    small = [(lb["chart"], lb["text"], round(lb["px"], 1)) for lb in labels if lb["px"] < 11]
    assert small == []
    # A desktop's stay the size they were (12 units on a chart wider than its 440).
    assert width < 1280 or all(label["px"] <= 16 for label in labels)
    outside = [
        (lb["chart"], lb["text"])
        for lb in labels
        if not (
            lb["svg"][0] - TOUCH <= lb["box"][0]
            and lb["box"][2] <= lb["svg"][2] + TOUCH
            and lb["svg"][1] - TOUCH <= lb["box"][1]
            and lb["box"][3] <= lb["svg"][3] + TOUCH
        )
    ]
    assert outside == []
    # Tick labels, names and targets stand beside the plot, never on it.
    on_plot = [
        (lb["chart"], lb["text"])
        for lb in labels
        if {"end", "middle"} & set(lb["css"].split()) and overlap(lb["box"], lb["plot"])
    ]
    assert on_plot == []
    clipped = [
        w["chart"] for w in widest if w["left"] < w["svg"] - TOUCH or w["right"] > w["plot"] + TOUCH
    ]
    assert clipped == [], f"{WIDEST_COUNT} does not fit left of the plot"
    assert sideways <= 0
    crowded = [
        (a["chart"], a["text"], b["text"])
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if a["chart"] == b["chart"] and overlap(a["box"], b["box"])
    ]
    assert crowded == []
    # A date under every other of the 13 weeks; a phone keeps every fourth.
    for chart in ("chart-expiry", "chart-drift"):
        dates = [lb for lb in labels if lb["chart"] == chart and "middle" in lb["css"]]
        assert len(dates) == (7 if width == 1280 else 4), [lb["text"] for lb in dates]
