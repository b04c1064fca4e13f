"""The benchmark's report gives each of the gate's two targets its own verdict."""

import importlib.util
from pathlib import Path

import pytest

# bench/run.py is a script, not a package's module: loaded from its path.
_SPEC = importlib.util.spec_from_file_location(
    "bench_run", Path(__file__).resolve().parents[2] / "bench" / "run.py"
)
run = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(run)


def figures(median: float) -> dict:
    return {"median": median, "min": median, "max": median, "runs": 3}


def report(ratio: float, p99: float) -> dict:
    return {
        "profile": "quick",
        "cores": 2,
        "started": "2026-11-30T00:00:00Z",
        "http": {
            "gate check (digest)": {
                "rps": figures(500.0),
                "p50_ms": figures(p99 / 2),
                "p99_ms": figures(p99),
                "ratio_to_one_query": figures(ratio),
            }
        },
        "pages": {"10 agents": {}},
        "audit": {"rows": []},
        "drift": {"rows": []},
    }


@pytest.mark.parametrize(
    ("ratio", "p99", "expected"),
    [
        (0.6, 40.0, "(0.6×, 0.6–0.6): met; p99 < 50 ms: met"),
        (0.6, 53.0, "(0.6×, 0.6–0.6): met; p99 < 50 ms: MISSED"),
        (0.4, 40.0, "(0.4×, 0.4–0.4): MISSED; p99 < 50 ms: met"),
        (0.5, 50.0, "(0.5×, 0.5–0.5): met; p99 < 50 ms: MISSED"),
    ],
)
def test_each_gate_target_has_its_verdict(ratio, p99, expected):
    line = run.render(report(ratio, p99)).splitlines()[4]
    assert line.startswith("| gate check (digest): req/s | 500.0 |")
    assert line.endswith(f"≥ 0.5 × one-query {expected} |")


def test_the_decision_points_figures_have_their_own_targets():
    data = report(0.6, 40.0)
    data["http"] = {
        run.ONE_EVALUATION: {
            "rps": figures(900.0),
            "p50_ms": figures(12.0),
            "p99_ms": figures(24.0),
            "ratio_to_one_query": figures(0.79),
            "non_2xx": 0,
        },
        run.BATCH: {"rps": figures(90.0), "p50_ms": figures(9.0), "p99_ms": figures(30.0)},
        run.EXPORT: {"rps": figures(90.0), "p50_ms": figures(9.0), "p99_ms": figures(50.0)},
        run.NOT_MODIFIED: {
            "rps": figures(300.0),
            "p50_ms": figures(3.0),
            "p99_ms": figures(6.0),
            "non_2xx": 2,
        },
    }
    lines = run.render(data).splitlines()[4::2]
    assert lines[0].endswith("≥ 0.8 × one-query (0.79×, 0.79–0.79): MISSED; p99 < 25 ms: met |")
    assert lines[1].endswith("| p50 < 20 ms: met |")
    assert lines[2].endswith("| p50 < 50 ms: met; p99 < 50 ms: MISSED |")
    assert lines[3].endswith("| p50 < 5 ms: met (2 answers not 2xx or 3xx) |")
