"""Find transactions that lock a row after they took the audit chain's lock.

A service's first audit event takes the chain's advisory lock (audit.chain,
CHAIN_LOCK_KEY) and holds it until the transaction ends. A service that locks
a row others lock (SELECT ... FOR UPDATE / NO KEY UPDATE / SHARE, or an UPDATE
or DELETE of it) after that point can deadlock with one that holds that row and
waits for the chain's lock: approvals.locks states the order.

`Watch` is an execute wrapper that follows each transaction of a connection:
it notes the statement that takes the chain's lock and records every later
statement of the same transaction that locks rows, with the product's frames
that ran it. Tests run inside transactions of their own (pytest-django's
atomic blocks); a watch starts below them, so the transaction it follows is
the one the product opened, as in production.

tests/conftest.py's `lock_order` fixture watches every test that uses the
database and fails one whose transactions lock rows after the chain's lock
where `SAFE` gives no reason it cannot deadlock. `LOCK_ORDER=0` turns it off;
`LOCK_ORDER_REPORT=<file>` surveys instead, failing nothing: every finding,
and the rows each transaction locks before the chain's lock (phase "before",
the other side of a deadlock), go to the file as JSON lines, e.g.

    LOCK_ORDER_REPORT=/tmp/lock-order.jsonl make test PYTEST_ARGS="tests/approvals"
"""

import re
import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from psycopg.pq import TransactionStatus

from audit.chain import CHAIN_LOCK_KEY

ROOT = Path(__file__).resolve().parent.parent
_PRODUCT = re.compile(
    r"^(agents|api|approvals|audit|config|identity|outbox|runtime|signoffs|tokens|web)/"
)
_ROW_LOCK = re.compile(
    r"\bFOR (UPDATE|NO KEY UPDATE|SHARE|KEY SHARE)\b(?!.*\b(SKIP LOCKED|NOWAIT)\b)"
)
_WRITE = re.compile(r'^\s*(UPDATE|DELETE FROM) "(\w+)"')
_UPSERT = re.compile(r'^\s*INSERT INTO "(\w+)".*\bON CONFLICT\b.*\bDO UPDATE\b', re.S)
_LOCKED_TABLE = re.compile(r'\bFROM "(\w+)"')
# A statement on rows named by their keys alone: its last parameters are the keys.
_KEYED_ROWS = re.compile(
    r'WHERE "(\w+)"\."id" (?:= %s|IN \(((?:%s, )*%s)\))(?: ORDER BY [^%]*?)?(?: LIMIT \d+)?'
    r"(?: FOR [A-Z ]+?(?: OF .+)?)?$"
)


# Why the agent's row orders the rows below it (approvals.locks).
_AGENT = (
    "every service that locks or writes an agent's packages, their sign-offs, scope entries, "
    "emergencies, drift findings, observations or usage days locks the agent's row first, "
    "and this transaction holds it: nobody else holds such a row while it runs"
)
# Why the user's row orders their memberships (agents.membership.user_lock).
_USER = (
    "every change of a user's groups, teams or permissions locks the user's row first, and "
    "this transaction holds it: nobody else holds their membership rows while it runs"
)
_OWN = "rows this transaction inserted, which no other transaction sees until it commits"

# (a product frame "path function", table): why that frame locking or writing rows of the
# table after the chain's lock cannot deadlock. Table "*" is any table.
SAFE = {
    ("approvals/ownership.py _packages_in_review", "approvals_approvalpackage"): _AGENT,
    ("approvals/services.py _approve", "approvals_approvalpackage"): _AGENT,
    ("approvals/services.py _close", "approvals_approvalpackage"): _AGENT,
    ("approvals/services.py agent_suspend", "approvals_approvalpackage"): _AGENT,
    ("approvals/services.py package_expire", "approvals_approvalpackage"): _AGENT,
    ("approvals/services.py package_submit", "approvals_approvalpackage"): _AGENT,
    ("approvals/rereview.py carried_signoffs_reopen", "approvals_approvalpackage"): _AGENT,
    ("approvals/rereview.py carried_signoffs_reopen", "signoffs_signoff"): _AGENT,
    ("approvals/rereview.py decided_signoffs_reopen", "approvals_approvalpackage"): _AGENT,
    ("approvals/rereview.py decided_signoffs_reopen", "signoffs_signoff"): _AGENT,
    ("approvals/rereview.py decided_signoffs_reopen", "signoffs_decision"): (
        _AGENT + "; a decision is written only by decision_record and this set-aside, both "
        "holding it"
    ),
    ("approvals/services.py signoff_decide", "signoffs_signoff"): _AGENT,
    ("signoffs/services.py decision_record", "signoffs_signoff"): _AGENT,
    ("approvals/emergency_state.py _open_emergency", "approvals_emergencyapproval"): _AGENT,
    ("approvals/emergency_state.py emergency_close", "approvals_emergencyapproval"): _AGENT,
    ("approvals/claims.py claim_findings_record", "approvals_driftfinding"): _AGENT,
    ("agents/observations.py _upsert_chunk", "agents_observation"): _AGENT,
    ("agents/usage.py usage_days_add", "agents_usageday"): (
        _AGENT + "; the prune, which does not, deletes only days past keeping, never written"
    ),
    ("approvals/services.py package_create", "approvals_approvalpackage"): _OWN,
    ("approvals/services.py _entries_replace", "approvals_scopeentry"): _OWN,
    ("identity/services.py provider_user_sign_in", "auth_user"): (
        "the user its first sign-in created: " + _OWN
    ),
    ("identity/services.py provider_user_sign_in", "identity_provideridentity"): (
        "the sign-in's own link, locked before its first event or created by it"
    ),
    ("agents/admin.py save_related", "agents_team"): "the team save_model created: " + _OWN,
    ("agents/membership.py _groups_apply", "auth_user_groups"): _USER,
    ("agents/membership.py _teams_apply", "agents_team_members"): _USER,
    ("agents/membership.py team_members_change", "agents_team_members"): _USER,
    ("agents/grants.py kill_switch_grants_withdraw", "guardian_userobjectpermission"): (
        "an assignment or a revocation writes a grant holding the agent's row and its holder's, "
        "one of which this transaction holds (the holder's for a change of their rights, the "
        "agent's for a change of its team or owners), so it waits for this one before it "
        "touches the grant; any other withdrawal deletes grants only after the chain's lock"
    ),
    ("identity/admin.py user_change_password", "tokens_browsersession"): (
        "the administrator's own session, cycled by Django: the session middleware writes "
        "sessions outside any transaction that appends an event, so nothing holds a "
        "session's row while waiting for the chain's lock"
    ),
    ("agents/membership.py _sessions_end", "tokens_browsersession"): (
        "the deactivated user's sessions, deleted after the chain's lock only when a rename "
        "in the same save took it first (identity/admin.py save_model): a transaction that "
        "writes their sessions after the chain's lock (their own password change) locks their "
        "row first, as this one did; login() and the session middleware write sessions outside "
        "any transaction that appends an event; the daily prune deletes the sessions expired "
        "when it starts and this delete those unexpired at its own, so only one expiring in "
        "between could be wanted by both"
    ),
    ("signoffs/services.py checklists_load", "signoffs_checklist"): (
        "only loads write checklists, each loading every file in one order: a second load "
        "waits at the first checklist the first one inserts, before it holds any row"
    ),
    ("web/demo.py seed_demo", "*"): (
        "the demo seed fills an empty database in one transaction before anyone uses it"
    ),
}


def unsafe(findings) -> list:
    """Return the findings after the chain's lock that `SAFE` does not explain."""
    return [
        finding
        for finding in findings
        if finding.phase == "after"
        and not any(
            (_function(frame), table) in SAFE
            for frame in finding.frames
            for table in (finding.table, "*")
        )
    ]


def _function(frame: str) -> str:
    path, _, function = frame.partition(" ")
    return f"{path.rpartition(':')[0]} {function}"


@dataclass(frozen=True)
class Finding:
    """A statement that locks rows, run by a transaction holding the chain's lock."""

    phase: str  # "after" the chain's lock, or "before" it (the rows its holder waits with)
    kind: str  # "lock", "update", "delete" or "upsert"
    table: str
    frame: str  # the innermost product frame: "path:line function"
    frames: tuple[str, ...]  # the product's frames, innermost first
    chain_frame: str  # the product frame whose statement took the chain's lock
    agent_first: bool  # whether the transaction locked or wrote an agent's row before
    statement: str


def takes_chain_lock(sql: str, params) -> bool:
    if "audit_append(" in sql:
        return True
    return "pg_advisory_xact_lock" in sql and bool(params) and params[0] == CHAIN_LOCK_KEY


def row_lock(sql: str) -> tuple[str, str] | None:
    """Return (kind, table) of a statement that locks or writes existing rows, or None."""
    head = sql.lstrip()[:7]
    if head.startswith("SELECT"):
        if " FOR " in sql and _ROW_LOCK.search(sql):
            table = _LOCKED_TABLE.search(sql)
            return "lock", table.group(1) if table else "?"
        return None
    if head.startswith(("UPDATE", "DELETE")):
        match = _WRITE.match(sql)
        return (match.group(1).split()[0].lower(), match.group(2)) if match else None
    if head.startswith("INSERT") and "ON CONFLICT" in sql:
        match = _UPSERT.match(sql)
        return ("upsert", match.group(1)) if match else None
    return None


def _shortened(sql: str) -> str:
    return sql if len(sql) <= 320 else sql[:100] + " ... " + sql[-200:]


def product_frames(limit: int = 12) -> tuple[str, ...]:
    """Return the product's frames on the stack, innermost first."""
    frames = []
    frame = sys._getframe(2)
    while frame is not None and len(frames) < limit:
        path = frame.f_code.co_filename
        if path.startswith(str(ROOT)):
            relative = path[len(str(ROOT)) + 1 :]
            if _PRODUCT.match(relative):
                frames.append(f"{relative}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return tuple(frames)


@dataclass
class Watch:
    """The execute wrapper of one connection; `baseline` atomic blocks are the test's own.

    With `before` it also records the rows each transaction locks before it takes
    the chain's lock (the other side of a deadlock), as findings of phase "before".
    """

    baseline: int
    before: bool = False
    findings: list = field(default_factory=list)
    generation: int = 0
    holder: object = None  # the transaction holding the chain's lock, as `_transaction` names it
    chain_frame: str = ""
    locking: object = None  # the transaction the fields below describe
    rows: set = field(default_factory=set)  # (table, key) of the rows it locked or wrote
    agent_locked: bool = False
    pending: list = field(default_factory=list)  # its locks before the chain's, with `before`

    def _transaction(self, connection):
        """Name the product's transaction under way, or None outside one."""
        if len(connection.atomic_blocks) <= self.baseline:
            return None
        if self.baseline:
            return connection.savepoint_ids[self.baseline - 1] or id(
                connection.atomic_blocks[self.baseline]
            )
        return self.generation

    def _finding(self, phase, kind, table, sql, frames) -> Finding:
        return Finding(
            phase=phase,
            kind=kind,
            table=table,
            frame=frames[0] if frames else "?",
            frames=frames,
            chain_frame=self.chain_frame,
            agent_first=self.agent_locked and table != "agents_agent",
            statement=_shortened(" ".join(sql.split())),
        )

    def __call__(self, execute, sql, params, many, context):
        connection = context["connection"]
        if not self.baseline:
            raw = connection.connection
            if raw is not None and raw.info.transaction_status == TransactionStatus.IDLE:
                self.generation += 1
        current = self._transaction(connection)
        if current is None:
            return execute(sql, params, many, context)
        if current != self.locking:
            self.locking, self.rows, self.agent_locked, self.pending = current, set(), False, []
        locked = row_lock(sql)
        if locked is not None:
            keyed = None if many or not params else _KEYED_ROWS.search(sql)
            rows = set()
            if keyed:
                count = keyed.group(2).count("%s") if keyed.group(2) else 1
                rows = {(keyed.group(1), key) for key in params[-count:]}
            if rows and rows <= self.rows:
                locked = None  # rows it holds already: no wait
            elif "FOR SHARE" not in sql and "FOR KEY SHARE" not in sql:
                self.rows |= rows
        if locked is not None:
            if current == self.holder:
                self.findings.append(self._finding("after", *locked, sql, product_frames()))
            elif self.before:
                self.pending.append(self._finding("before", *locked, sql, product_frames()))
            if locked[1] == "agents_agent":
                self.agent_locked = True
        result = execute(sql, params, many, context)
        if current != self.holder and takes_chain_lock(sql, params):
            self.holder = current
            frames = [f for f in product_frames(limit=6) if not f.startswith("audit/services.py")]
            self.chain_frame = frames[0] if frames else "?"
            self.findings += [replace(f, chain_frame=self.chain_frame) for f in self.pending]
            self.pending = []
        return result


class Watcher:
    """Watch the test's connection and every connection its threads open."""

    def __init__(self, connection, before: bool = False):
        from django.db.backends.signals import connection_created

        self.before = before
        self.lock = threading.Lock()
        self.watches = [Watch(baseline=len(connection.atomic_blocks), before=before)]
        self.wrapped = [(connection, self.watches[0])]
        connection.execute_wrappers.append(self.watches[0])
        self.signal = connection_created
        connection_created.connect(self._created, weak=False, dispatch_uid=id(self))

    def _created(self, sender, connection, **kwargs):
        if any(watch in connection.execute_wrappers for watch in self.watches):
            return
        watch = Watch(baseline=len(connection.atomic_blocks), before=self.before)
        with self.lock:
            self.watches.append(watch)
            self.wrapped.append((connection, watch))
        connection.execute_wrappers.append(watch)

    def close(self) -> list[Finding]:
        self.signal.disconnect(dispatch_uid=id(self))
        for connection, watch in self.wrapped:
            if watch in connection.execute_wrappers:
                connection.execute_wrappers.remove(watch)
        return [finding for watch in self.watches for finding in watch.findings]
