"""The charts' axis ticks (`web.charts.ticks`): round steps from 0 to the maximum, whole
numbers on an axis that counts approvals, packages or findings."""

import math
from itertools import pairwise

from hypothesis import example, given
from hypothesis import strategies as st

from web.charts import COUNT_LABEL_CHARS, COUNT_UNITS, MOST_STEPS, tick_label, ticks

# Up to half a thousand trillion: more than a PostgreSQL table's rows.
counts = st.integers(min_value=0, max_value=5 * 10**14) | st.floats(min_value=0, max_value=5e14)
days = st.floats(min_value=0, max_value=1e6)


def check_axis(values: list, maximum: float, least_step: float) -> float:
    """Assert what every axis holds and return its step."""
    assert values[0] == 0
    assert 2 <= len(values) <= MOST_STEPS + 1
    assert all(a < b for a, b in pairwise(values))
    assert values[-1] >= maximum
    # The top is the first tick at or past the maximum, never a step or more beyond it.
    assert maximum <= 0 or values[-2] < maximum
    steps = [b - a for a, b in pairwise(values)]
    step = steps[0]
    assert all(math.isclose(other, step) for other in steps)
    assert step >= least_step
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    assert any(math.isclose(mantissa, nice) for nice in (1, 2, 5)), step
    labels = [tick_label(value) for value in values]
    assert len(set(labels)) == len(labels), labels
    return step


@given(counts)
@example(0)
@example(1)
@example(3)
@example(4)
@example(5)
@example(6)
@example(940_000)
@example(1_200_000)
@example(600_000_000)
@example(900_000_000)
@example(5 * 10**14)
def test_a_count_axis_steps_by_whole_round_numbers(maximum):
    values = ticks(maximum)
    check_axis(values, maximum, least_step=1)
    assert all(type(value) is int for value in values)
    for value in values:
        label = tick_label(value)
        # Read back, the label is the count itself.
        sizes = {suffix: size for size, suffix in COUNT_UNITS}
        size = sizes.get(label[-1], 1)
        assert round(float(label.rstrip("".join(sizes))) * size) == value, label
        # Whatever the count: no wider than the margin left of the plot holds.
        assert len(label) <= COUNT_LABEL_CHARS, label


@given(days)
@example(0)
@example(1.2)
@example(8.4)
def test_a_days_axis_steps_by_round_numbers_to_the_tenth(maximum):
    values = ticks(maximum, whole=False)
    check_axis(values, maximum, least_step=0.1)
    # Each label is its tick to the tenth, as the table writes a lead time.
    for value in values:
        assert float(tick_label(value)) == round(value, 1) == value
        assert "e" not in tick_label(value) and not tick_label(value).endswith(".0")


def test_large_counts_are_labelled_in_thousands_and_millions():
    assert [tick_label(value) for value in ticks(2345)] == ["0", "500", "1k", "1.5k", "2k", "2.5k"]
    assert [tick_label(value) for value in ticks(480_000)] == [
        "0",
        "100k",
        "200k",
        "300k",
        "400k",
        "500k",
    ]
    assert [tick_label(value) for value in ticks(940_000)] == [
        "0",
        "200k",
        "400k",
        "600k",
        "800k",
        "1M",
    ]
    assert [tick_label(value) for value in ticks(1_200_000)] == ["0", "500k", "1M", "1.5M"]


def test_counts_past_half_a_billion_are_labelled_in_billions_and_trillions():
    """A phone's margin left of the plot holds "500M" but not "1000M"."""
    assert [tick_label(value) for value in ticks(900_000_000)] == [
        "0",
        "200M",
        "400M",
        "600M",
        "800M",
        "1B",
    ]
    assert [tick_label(value) for value in ticks(2_400_000_000)] == [
        "0",
        "500M",
        "1B",
        "1.5B",
        "2B",
        "2.5B",
    ]
    assert [tick_label(value) for value in ticks(7 * 10**12)] == ["0", "2T", "4T", "6T", "8T"]


def test_small_counts_are_counted_one_by_one():
    assert ticks(0) == [0, 1]
    assert ticks(1) == [0, 1]
    assert ticks(4) == [0, 1, 2, 3, 4]
    assert ticks(5) == [0, 1, 2, 3, 4, 5]
    assert ticks(6) == [0, 2, 4, 6]
    assert ticks(11) == [0, 5, 10, 15]
    assert ticks(99) == [0, 20, 40, 60, 80, 100]


def test_a_days_axis_may_step_by_half_a_day():
    assert [tick_label(value, " d") for value in ticks(1.2, whole=False)] == [
        "0 d",
        "0.5 d",
        "1 d",
        "1.5 d",
    ]
    assert ticks(6, whole=False) == [0, 2, 4, 6]
