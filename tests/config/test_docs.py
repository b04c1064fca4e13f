"""The README and docs/ stand on their own: their links resolve inside the repository."""

import re
from pathlib import Path

from approvals.gate_vocabulary import GateReason
from approvals.models import ALLOWED_TRANSITIONS, PackageState
from config.roles import REVIEWER_GROUPS, Scope

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", ROOT / "audit" / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Code blocks hold code, whose brackets and parentheses are not links.
FENCED = re.compile(r"^```.*?^```", re.S | re.M)


def test_no_page_points_outside_the_repository():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, page
        for target in LINK.findall(FENCED.sub("", text)):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{page.name}: {target}"
            assert resolved.exists(), f"{page.name}: {target} does not exist"


# What `make run`, the benchmark or an operator writes; a checkout does not hold it.
WRITTEN_LATER = ("var/", "secrets/", "bench/results/")
# A file by its kind; what else a top-level directory starts (`audit/verify`) is a URL.
FILE_KINDS = {".py", ".md", ".sh", ".yaml", ".yml", ".html", ".toml", ".txt", ".json", ".css"}


def test_every_file_a_page_names_exists():
    """A file or directory of the repository named in code (`config/schedule.py`,
    `signoffs/checklists/`) is there."""
    tops = "|".join(path.name for path in ROOT.iterdir() if path.is_dir() and path.name[0] != ".")
    named = re.compile(rf"(?<![\w/.-])((?:{tops})/[\w.-]*(?:/[\w.-]+)*/?)")
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for span in re.findall(r"`([^`\n]+)`", text):
            if "://" in span:
                continue
            for path in named.findall(span):
                path = path.rstrip(".")
                kind = Path(path).suffix
                if path.startswith(WRITTEN_LATER) or not (path.endswith("/") or kind in FILE_KINDS):
                    continue
                assert (ROOT / path).exists(), f"{page.relative_to(ROOT)}: {path} does not exist"


# Read by config/settings.py but set only by the suite and the benchmark, never a deployment.
NOT_FOR_DEPLOYMENTS = {"CELERY_TASK_ALWAYS_EAGER", "BENCH_VIEWS"}


def test_env_example_lists_every_setting():
    """The README and docs/operations.md say `.env.example` lists every setting
    config/settings.py reads from the environment (a commented line counts)."""
    settings = (ROOT / "config" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r"\benv(?:_bool|_int|_list)?\(\s*\"([A-Z0-9_]+)\"", settings))
    read |= {f"REVIEW_SLA_DAYS_{dimension.upper()}" for dimension in REVIEWER_GROUPS}
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", example, re.M))
    assert len(read) > 70
    assert read - NOT_FOR_DEPLOYMENTS <= listed, sorted(read - NOT_FOR_DEPLOYMENTS - listed)


def test_every_guide_picture_is_shown_and_every_shown_one_exists():
    shown = set()
    for page in DOCS.glob("*.md"):
        shown.update(re.findall(r"\(images/([\w-]+\.png)\)", page.read_text(encoding="utf-8")))
    taken = {path.name for path in (DOCS / "images").glob("*.png")}
    assert shown and shown <= taken, sorted(shown - taken)
    assert taken <= shown, f"pictures no guide shows: {sorted(taken - shown)}"


def test_each_role_has_a_guide():
    for name in ["product-owner", "reviewer", "compliance", "staff", "ci"]:
        assert (DOCS / f"guide-{name}.md").exists(), name
    for name in ["design", "api", "operations"]:
        assert (DOCS / f"{name}.md").exists(), name


def test_every_token_scope_is_described():
    """The README's list of scopes, its rule of who may hold them, and the API guide's table
    name every scope of config.roles, the one definition."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    described = readme.split("\nScopes: ", 1)[1].split("\n\n", 1)[0]
    holders = readme.split("API tokens: a token carries at most", 1)[1].split("\n\n", 1)[0]
    table = set(re.findall(r"^\| `([a-z]+:[a-z]+)` \|", (DOCS / "api.md").read_text(), re.M))
    for scope in Scope.values:
        assert f"`{scope}`" in described, scope
        assert f"`{scope}`" in holders, scope
    assert table == set(Scope.values)


def test_the_package_states_table_is_the_allowed_transitions():
    """docs/design.md's table of package moves, and the README's summary of them, are
    approvals.models.ALLOWED_TRANSITIONS."""
    state = {choice.label.lower(): choice for choice in PackageState}
    allowed = {(a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets}
    design = (DOCS / "design.md").read_text(encoding="utf-8")
    section = design.split("## Package states", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([a-z ]+) \| ([a-z ]+) \| [^|]+ \|$", section, re.M)
    assert {(state[a], state[b]) for a, b in rows if a != "from"} == allowed
    # The README: "draft → in review; in review → approved / ... (why); approved → ...".
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    summary = readme.split("States (`approvals.models.ALLOWED_TRANSITIONS`):", 1)[1]
    summary = re.sub(r" \([^)]*\)", "", " ".join(summary.split(".\n", 1)[0].split()))
    listed = set()
    for move in summary.split("; "):
        source, targets = move.split(" → ")
        listed |= {(state[source], state[target]) for target in targets.split(" / ")}
    assert listed == allowed


def test_every_gate_reason_is_described():
    """The README's list of the gate's reasons and the CI guide's table of them (with the
    allow's reason below it) name every code of approvals.gate_vocabulary.GateReason, and
    no other."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = readme.split("Deny reasons: ", 1)[1].split("\n\n", 1)[0]
    guide = (DOCS / "guide-ci.md").read_text(encoding="utf-8")
    section = guide.split("\n## Deny reasons\n", 1)[1].split("\n## ", 1)[0]
    table = {
        code
        for row in re.findall(r"^\| (`.*?) \|", section, re.M)
        for code in re.findall(r"`([a-z_]+)`", row)
    }
    for code in GateReason.values:
        assert f"`{code}`" in listed, f"README: {code}"
        assert f"`{code}`" in section, f"guide-ci.md: {code}"
    assert table <= set(GateReason.values), table - set(GateReason.values)


def test_the_readme_tree_names_every_directory():
    """The README's "How it works" tree has a line for each top-level directory of the
    checkout (docs/ has its own section; what .gitignore names is written later)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tree = readme.split("## How it works\n\n```\n", 1)[1].split("```", 1)[0]
    listed = set(re.findall(r"^([\w-]+)/ ", tree, re.M))
    ignored = set(re.findall(r"^([\w-]+)/$", (ROOT / ".gitignore").read_text(), re.M))
    present = {
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and path.name[0] != "." and path.name not in ignored | {"docs"}
    }
    assert present <= listed, sorted(present - listed)
    assert listed <= present, sorted(listed - present)
