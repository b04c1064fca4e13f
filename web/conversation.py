"""What the package page shows of its conversation: threads on the package, on each scope
entry and on each decision, each with its reply form.

A long review stays quick to read and to load: each list (a group's threads, a thread's
replies, a decision's answers) shows its newest items, and in place of the older ones a
link that loads the newest few of them (`conversation_earlier`). A comment the page must
show (the one its address names, the thread of a form sent back with an error) is shown
where it belongs, the ones around it folded. A fixed number of queries, however many
comments: where each comment is, then the comments shown with their authors and mentions.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

from approvals.comments import can_comment, package_comments, package_comments_outline
from web import vocabulary
from web.forms.comments import NEW, PACKAGE_THREADS, CommentForm, entry_value
from web.review import REMOVED

# The newest threads of a group, and the newest replies of a thread or answers of a
# decision, that the page shows; a "Show earlier" link loads EARLIER_PAGE more.
THREADS_SHOWN = 20
REPLIES_SHOWN = 3
EARLIER_PAGE = 20


def entry_anchor(kind: str, identifier: str) -> str:
    """Return the page anchor of a scope entry's threads (identifiers may hold anything)."""
    digest = hashlib.sha256(entry_value(kind, identifier).encode()).hexdigest()[:12]
    return f"talk-{kind}-{digest}"


def entry_threads(kind: str, identifier: str) -> str:
    """Return the key of the list of a scope entry's threads."""
    return f"entry:{entry_value(kind, identifier)}"


@dataclass
class Gap:
    """Items of a list left off the page, between two shown: a link loads the newest of them."""

    key: str
    after: int | None
    before: int
    count: int
    is_gap: bool = True

    @property
    def loads(self) -> int:
        return min(self.count, EARLIER_PAGE)

    @property
    def noun(self) -> str:
        if self.key.startswith("answer-"):
            return "answer" if self.loads == 1 else "answers"
        if self.key.startswith("reply-"):
            return "reply" if self.loads == 1 else "replies"
        return "thread" if self.loads == 1 else "threads"

    @property
    def query(self) -> str:
        query = {"of": self.key, "before": self.before}
        if self.after is not None:
            query["after"] = self.after
        return urlencode(query)


@dataclass
class Thread:
    """A first comment and its replies, or a decision's answers, with the form to add one.

    `items` are the replies (answers) shown, oldest first, a Gap where some are folded;
    `count` is how many comments the thread holds.
    """

    key: str
    first: object = None
    items: list = field(default_factory=list)
    count: int = 0
    form: CommentForm | None = None


@dataclass
class EntryTalk:
    """The threads on one scope entry (`threads`: shown ones and Gaps)."""

    kind: str
    identifier: str
    anchor: str
    threads: list = field(default_factory=list)
    in_scope: bool = True
    count: int = 0

    @property
    def label(self) -> str:
        return f"{vocabulary.label('scope_kind', self.kind)} {self.identifier}"

    @property
    def about(self) -> str:
        return entry_value(self.kind, self.identifier)


@dataclass
class Conversation:
    may_comment: bool
    package_threads: list = field(default_factory=list)
    entries: list = field(default_factory=list)
    decisions: dict = field(default_factory=dict)
    new_form: CommentForm | None = None
    count: int = 0

    def entry(self, kind: str, identifier: str) -> EntryTalk | None:
        return next((t for t in self.entries if (t.kind, t.identifier) == (kind, identifier)), None)


class _Reader:
    """The conversation's lists by key, ids oldest first, and the comments read to show.

    Keys: PACKAGE_THREADS and `entry_threads(...)` list first comments, `reply-<first>`
    a thread's replies, `answer-<decision>` a decision's answers.
    """

    def __init__(self, package, user, *, bound: CommentForm | None = None, shown=()):
        self.package = package
        self.may = bool(can_comment(user, package))
        self.bound = bound
        self.lists: dict[str, list[int]] = defaultdict(list)
        self.entries: dict[str, tuple[str, str]] = {}
        self.count = 0
        threads: set[int] = set()
        for pk, parent, decision, kind, identifier in package_comments_outline(package):
            self.count += 1
            if decision is not None:
                self.lists[f"answer-{decision}"].append(pk)
            elif parent is not None and parent in threads:
                self.lists[f"reply-{parent}"].append(pk)
            else:
                threads.add(pk)
                key = PACKAGE_THREADS
                if kind:
                    key = entry_threads(kind, identifier)
                    self.entries.setdefault(key, (kind, identifier))
                self.lists[key].append(pk)
        self.pinned = self._pinned(shown)
        self.comments: dict = {}

    def _pinned(self, shown) -> set[int]:
        """Return the comments to show wherever they are: those given and their threads'."""
        where = {pk: key for key, pks in self.lists.items() for pk in pks}
        pinned = set()
        for pk in shown:
            if pk in where:
                pinned.add(pk)
                if where[pk].startswith("reply-"):
                    pinned.add(int(where[pk].removeprefix("reply-")))
        return pinned

    def newest(self, key: str, count: int) -> set[int]:
        """Return the list's newest `count` items and those pinned."""
        pks = self.lists.get(key, [])
        return set(pks[-count:]) | (self.pinned & set(pks))

    def thread_ids(self, first: int) -> set[int]:
        return {first} | self.newest(f"reply-{first}", REPLIES_SHOWN)

    def read(self, pks: set[int]) -> None:
        self.comments = {c.pk: c for c in package_comments(self.package).filter(pk__in=pks)}

    def form(self, key: str) -> CommentForm | None:
        if not self.may or key.startswith("answer-"):
            return None
        if self.bound is not None and self.bound.key == key:
            return self.bound
        return CommentForm(key=key)

    def items(self, key: str, pks: list[int], shown: set[int], after: int | None = None) -> list:
        """Return the shown items of `pks`, oldest first, a Gap for each run of others."""
        items, run = [], 0
        for pk in pks:
            if pk not in shown:
                run += 1
                continue
            if run:
                items.append(Gap(key, after, pk, run))
                run = 0
            if key.startswith(("reply-", "answer-")):
                items.append(self.comments[pk])
            else:
                items.append(self.thread(pk))
            after = pk
        return items

    def thread(self, first: int) -> Thread:
        key = f"reply-{first}"
        replies = self.lists.get(key, [])
        shown = self.newest(key, REPLIES_SHOWN)
        items = self.items(key, replies, shown)
        return Thread(key, self.comments[first], items, 1 + len(replies), self.form(key))

    def answers(self, decision: int) -> Thread:
        key = f"answer-{decision}"
        pks = self.lists.get(key, [])
        return Thread(key, None, self.items(key, pks, self.newest(key, REPLIES_SHOWN)), len(pks))

    def entry_count(self, key: str) -> int:
        return sum(1 + len(self.lists.get(f"reply-{pk}", [])) for pk in self.lists[key])


def conversation(
    package, user, *, bound: CommentForm | None = None, about: str = "", comment: int | None = None
):
    """Return the package's conversation for the user, `bound` in place of its empty form.

    `about` preselects a scope entry (its `entry` choice) in the new comment's form;
    `comment` is shown (with its thread) however old.
    """
    shown = [comment] if comment else []
    if bound is not None and bound.key.startswith("reply-"):
        shown.append(int(bound.key.removeprefix("reply-")))
    reader = _Reader(package, user, bound=bound, shown=shown)
    scope = list(package.entries.order_by("kind", "identifier").values_list("kind", "identifier"))
    new = None
    if reader.may:
        new = bound if bound is not None and bound.key == NEW else None
        if new is None:
            new = CommentForm(key=NEW, entries=scope, initial={"entry": about})
            if about and about in dict(new.fields["entry"].choices):
                # Opened from a scope row's link: the text is what comes next.
                new.fields["body"].widget.attrs["autofocus"] = True
    groups = {key: reader.newest(key, THREADS_SHOWN) for key in (PACKAGE_THREADS, *reader.entries)}
    pks: set[int] = set()
    for firsts in groups.values():
        for first in firsts:
            pks |= reader.thread_ids(first)
    decisions = [key for key in reader.lists if key.startswith("answer-")]
    for key in decisions:
        pks |= reader.newest(key, REPLIES_SHOWN)
    reader.read(pks)
    talk = Conversation(may_comment=reader.may, new_form=new, count=reader.count)
    package_threads = reader.lists.get(PACKAGE_THREADS, [])
    talk.package_threads = reader.items(PACKAGE_THREADS, package_threads, groups[PACKAGE_THREADS])
    for key in decisions:
        decision = int(key.removeprefix("answer-"))
        talk.decisions[decision] = reader.answers(decision)
    order = {key: index for index, key in enumerate(scope)}
    for key, (kind, identifier) in reader.entries.items():
        entry = EntryTalk(kind, identifier, anchor=entry_anchor(kind, identifier))
        entry.threads = reader.items(key, reader.lists[key], groups[key])
        entry.in_scope = (kind, identifier) in order
        entry.count = reader.entry_count(key)
        talk.entries.append(entry)
    talk.entries.sort(key=lambda t: order.get((t.kind, t.identifier), -1))
    return talk


def conversation_earlier(package, user, *, key: str, before: int, after: int | None = None):
    """Return the newest EARLIER_PAGE items of a list between `after` and `before` (threads
    or comments, oldest first), a Gap first if more are left; None if the list has no
    `before`, `after` is not before it, or nothing is between them."""
    reader = _Reader(package, user)
    pks = reader.lists.get(key, [])
    if before not in pks:
        return None
    end = pks.index(before)
    start = 0
    if after is not None:
        if after not in pks[:end]:
            return None
        start = pks.index(after) + 1
    if start == end:
        return None
    shown = set(pks[start:end][-EARLIER_PAGE:])
    threads = not key.startswith(("reply-", "answer-"))
    read = set(shown)
    if threads:
        for first in shown:
            read |= reader.thread_ids(first)
    reader.read(read)
    items = reader.items(key, pks[start:end], shown, after)
    # The focus goes to the first comment loaded, where reading goes on.
    first = next(item for item in items if not isinstance(item, Gap))
    (first.first if isinstance(first, Thread) else first).autofocus = True
    return items


def decision_thread(talk: Conversation, decision, bound: CommentForm | None) -> Thread:
    """Return a decision's thread of answers (empty if none yet) with its answer form."""
    thread = talk.decisions.get(decision.pk) or Thread(f"answer-{decision.pk}")
    if talk.may_comment and thread.form is None:
        key = f"answer-{decision.pk}"
        thread.form = bound if bound is not None and bound.key == key else CommentForm(key=key)
    return thread


def scope_rows_annotate(talk: Conversation, rows) -> None:
    """Give each scope row of the page its anchor, comment count and `about` choice.

    A row the version removed has no `about`: only this version's entries take comments.
    """
    for row in rows:
        entry = talk.entry(row.kind, row.identifier)
        row.talk_anchor = entry.anchor if entry else ""
        row.talk_count = entry.count if entry else 0
        row.talk_about = "" if row.status == REMOVED else entry_value(row.kind, row.identifier)
