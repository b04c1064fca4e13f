"""The README and docs/ stand on their own: their links resolve inside the repository."""

import ast
import io
import re
from contextlib import redirect_stderr, redirect_stdout, suppress
from pathlib import Path

from django.core.management import get_commands, load_command_class
from django.urls import Resolver404, resolve
from rest_framework import exceptions

from approvals.gate_vocabulary import GateReason
from approvals.models import ALLOWED_TRANSITIONS, PackageState
from config.roles import REVIEWER_GROUPS, Scope
from outbox.services import EVENTS
from web.audit_words import SENTENCES

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


# The pages that explain the product; docs/performance.md logs measurements and quotes
# what was true when each was taken.
EXPLAINING = [page for page in PAGES if page.name != "performance.md"]
# The product's own packages, whose source holds its vocabularies.
PRODUCT = ["agents", "api", "approvals", "audit", "config", "identity", "outbox", "runtime"]
PRODUCT += ["signoffs", "tokens", "web"]


def _spans(page: Path) -> list[str]:
    return re.findall(r"`([^`\n]+)`", page.read_text(encoding="utf-8"))


def _flat(page: Path) -> str:
    """Return the page's text with its lines joined, as a reader reads a sentence."""
    return " ".join(page.read_text(encoding="utf-8").replace("\\\n", " ").split())


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


def test_every_event_a_page_names_is_one_the_product_writes():
    """An audit action (`package.signoffs_carried_over`) or a notification's event
    (`token.expiring`) named in code is in web.audit_words.SENTENCES, which holds every
    action written, or outbox.services.EVENTS; a file (`agent.json`) or a module
    (`audit.chain`) named alike is neither."""
    events = set(SENTENCES) | set(EVENTS)
    prefixes = {event.split(".", 1)[0] for event in events}
    modules = {path.stem for app in PRODUCT for path in (ROOT / app).rglob("*.py")}
    named = 0
    for page in EXPLAINING:
        for span in _spans(page):
            if not re.fullmatch(r"[a-z_]+\.[a-z_]+", span):
                continue
            prefix, rest = span.split(".")
            if prefix not in prefixes or rest in modules or f".{rest}" in FILE_KINDS:
                continue
            named += 1
            assert span in events, f"{page.relative_to(ROOT)}: {span} is no event"
    assert named > 10


def test_every_command_and_option_a_page_names_exists():
    """`manage.py token create --agent`: the command, and each option named after it, of the
    command or of its subcommand (test_readme_commands runs the README's as written)."""
    commands = get_commands()
    # The command, then the rest of its line, up to the end of a span or a shell operator.
    call = re.compile(r"manage\.py ([a-z_]+)([^`|#;&'\n]*)")
    options = 0
    for page in EXPLAINING:
        for name, rest in call.findall(_commands_text(page)):
            where = f"{page.relative_to(ROOT)}: manage.py {name}{rest}"
            assert name in commands, where
            parser = load_command_class(commands[name], name).create_parser("manage.py", name)
            words = [word for word in rest.split()[:1] if word[0] != "-"]
            known = _help(parser, []) + _help(parser, words)
            for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest):
                options += 1
                assert re.search(rf"(?<![\w-]){option}(?![\w-])", known), f"{where}: no {option}"
    assert options > 10


def _commands_text(page: Path) -> str:
    """Return the page's text with each command on one line: a shell line continued with a
    backslash joined, and so is a span of code that a line break cuts."""
    text = page.read_text(encoding="utf-8").replace("\\\n", " ")
    blocks = re.compile(r"^ *```.*?^ *```", re.S | re.M)  # in a list item too
    prose = re.sub(r"`[^`]+`", lambda span: " ".join(span.group(0).split()), blocks.sub("", text))
    return "\n".join([prose, *blocks.findall(text)])


def _help(parser, words: list[str]) -> str:
    """Return the help a command prints for `words --help` (its subcommand's, if `words`
    names one); an unknown subcommand prints none."""
    printed = io.StringIO()
    with redirect_stdout(printed), redirect_stderr(io.StringIO()), suppress(SystemExit):
        parser.parse_args([*words, "--help"])
    return printed.getvalue()


def test_every_api_path_a_page_names_is_served():
    """`/api/v1/agents/{slug}/narrow`, `/access/v1/evaluation`: each path the pages give,
    its placeholders filled in, is one of the product's URL patterns."""
    example = {"slug": "support-assistant", "dimension": "iam", "prefix": "cs_1a2b3c4d"}
    paths = 0
    for page in EXPLAINING:
        text = page.read_text(encoding="utf-8")
        for path in set(re.findall(r"(/(?:api|access)/v1/[^\s`)\"'?,]+)", text)):
            paths += 1
            filled = re.sub(r"\{(\w+)\}", lambda m: example.get(m.group(1), "1"), path)
            try:
                match = resolve(filled.rstrip(".:;"))
            except Resolver404:
                match = None
            assert match and match.url_name, f"{page.relative_to(ROOT)}: {path} is not served"
    assert paths > 20


def _literal_defaults() -> dict[str, str]:
    """Return each environment variable config/settings.py reads with a number as its
    default, and that number."""
    settings = (ROOT / "config" / "settings.py").read_text(encoding="utf-8")
    found = re.findall(r"\benv(?:_int)?\(\s*\"([A-Z0-9_]+)\",\s*\"?(\d+)(?:/min)?\"?\)", settings)
    return dict(found)


def test_every_default_a_page_states_is_the_settings_default():
    """`REVIEW_SLA_DAYS` (5 days by default), `NOTIFICATION_DAYS` (90),
    `THROTTLE_DECISIONS`, 60,000 a minute: the first number a page gives after naming a
    setting, in its clause, is the default config/settings.py reads it with."""
    defaults = _literal_defaults()
    assert {"REVIEW_SLA_DAYS", "NOTIFICATION_DAYS", "STEP_UP_SECONDS"} <= set(defaults)
    stated = 0
    for page in EXPLAINING:
        for name, value in re.findall(
            r"`([A-Z][A-Z0-9_]+)`[^`.;:]{0,30}?\b(\d[\d,]*)\b", _flat(page)
        ):
            if name in defaults:
                stated += 1
                assert value.replace(",", "") == defaults[name], (
                    f"{page.relative_to(ROOT)}: {name} {value}, default {defaults[name]}"
                )
    assert stated > 10


def _string_literals() -> set[str]:
    literals = set()
    for app in PRODUCT:
        for path in (ROOT / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    literals.add(node.value)
    return literals


def test_every_error_code_a_page_gives_with_its_status_is_the_products():
    """`403` `scope_not_granted`, `409` `nothing_to_narrow`, `empty_scope`: a code the pages
    give beside an HTTP status is one the product's source spells, or Django REST
    framework's for that error (`parse_error`); a system check's id (`audit.E002`)
    likewise."""
    spelled = _string_literals()
    spelled |= {
        error.default_code
        for error in vars(exceptions).values()
        if isinstance(error, type) and issubclass(error, exceptions.APIException)
    }
    given = 0
    status = re.compile(
        r"`?\b[45]\d\d\b`?(?: with code| with| [a-z]+)?,? \(?`([a-z][a-z0-9_]+)`"
        r"((?:,? (?:or |and )?`[a-z][a-z0-9_]+`)*)"
    )
    for page in EXPLAINING:
        text = _flat(page)
        for first, more in status.findall(text):
            for code in [first, *re.findall(r"`([a-z][a-z0-9_]+)`", more)]:
                given += 1
                assert code in spelled, f"{page.relative_to(ROOT)}: {code} is no error code"
        for check in re.findall(r"\b((?:countersign|audit|identity)\.[EW]\d{3})\b", text):
            assert check in spelled, f"{page.relative_to(ROOT)}: {check} is no check"
    assert given > 15


# What the enforcement point denies through: `_deny(reason)`, `PolicyError(reason, ...)`.
DENIALS = {"_deny", "PolicyError"}


def test_every_reason_the_enforcement_point_gives_is_described():
    """docs/api.md's section on tools/countersign_enforce.py names each reason code the
    enforcement point writes itself (`unreachable`, `http_<status>`, `enforcement_error`)."""
    source = ast.parse((ROOT / "tools" / "countersign_enforce.py").read_text(encoding="utf-8"))
    written = set()
    for node in ast.walk(source):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") in DENIALS):
            continue
        written |= _codes(node.args[0])
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    section = api.split("\n## The reference enforcement point\n", 1)[1].split("\n## ", 1)[0]
    assert {"unreachable", "http_<", "not_permitted"} <= written
    for code in written:
        assert f"`{code}" in section, f"docs/api.md: {code}"


def _codes(expression: ast.expr) -> set[str]:
    """Return the codes an expression spells: a literal, `http_<` for `f"http_{status}"`, each
    branch of a conditional (`... else "not_permitted"`); none for a variable."""
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return {expression.value}
    if isinstance(expression, ast.JoinedStr):
        return {expression.values[0].value + "<"}
    if isinstance(expression, ast.IfExp):
        return _codes(expression.body) | _codes(expression.orelse)
    return set()
