"""What the package page shows of its conversation: threads on the package, on each scope
entry and on each decision, each with its reply form.

A fixed number of queries, however many comments: the comments with their authors,
and their mentions.
"""

import hashlib
from dataclasses import dataclass, field

from approvals.comments import can_comment, package_comments
from web import vocabulary
from web.forms.comments import NEW, CommentForm, entry_value
from web.review import REMOVED


def entry_anchor(kind: str, identifier: str) -> str:
    """Return the page anchor of a scope entry's threads (identifiers may hold anything)."""
    digest = hashlib.sha256(entry_value(kind, identifier).encode()).hexdigest()[:12]
    return f"talk-{kind}-{digest}"


@dataclass
class Thread:
    """A first comment and its replies, or a decision's answers, with the form to add one."""

    key: str
    comments: list = field(default_factory=list)
    form: CommentForm | None = None

    @property
    def first(self):
        return self.comments[0] if self.comments else None


@dataclass
class EntryTalk:
    """The threads on one scope entry."""

    kind: str
    identifier: str
    anchor: str
    threads: list = field(default_factory=list)
    in_scope: bool = True

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


def conversation(package, user, *, bound: CommentForm | None = None, about: str = ""):
    """Return the package's conversation for the user, `bound` in place of its empty form.

    `about` preselects a scope entry (its `entry` choice) in the new comment's form.
    """
    may = bool(can_comment(user, package))
    scope = list(package.entries.order_by("kind", "identifier").values_list("kind", "identifier"))

    def form(key: str) -> CommentForm | None:
        if not may:
            return None
        if bound is not None and bound.key == key:
            return bound
        if key != NEW:
            return CommentForm(key=key)
        new = CommentForm(key=key, entries=scope, initial={"entry": about})
        if about and about in dict(new.fields["entry"].choices):
            # Opened from a scope row's link: the text is what comes next.
            new.fields["body"].widget.attrs["autofocus"] = True
        return new

    comments = list(package_comments(package))
    talk = Conversation(may_comment=may, new_form=form(NEW), count=len(comments))
    threads: dict[int, Thread] = {}
    by_entry: dict[tuple[str, str], EntryTalk] = {}
    for comment in comments:
        if comment.decision_id is not None:
            thread = talk.decisions.get(comment.decision_id)
            if thread is None:
                thread = Thread(f"answer-{comment.decision_id}", form=None)
                talk.decisions[comment.decision_id] = thread
            thread.comments.append(comment)
        elif comment.parent_id is not None and comment.parent_id in threads:
            threads[comment.parent_id].comments.append(comment)
        else:
            thread = Thread(f"reply-{comment.pk}", [comment], form(f"reply-{comment.pk}"))
            threads[comment.pk] = thread
            if comment.entry_kind:
                key = (comment.entry_kind, comment.entry_identifier)
                if key not in by_entry:
                    by_entry[key] = EntryTalk(*key, anchor=entry_anchor(*key))
                by_entry[key].threads.append(thread)
            else:
                talk.package_threads.append(thread)
    order = {key: index for index, key in enumerate(scope)}
    talk.entries = sorted(by_entry.values(), key=lambda t: order.get((t.kind, t.identifier), -1))
    for entry in talk.entries:
        entry.in_scope = (entry.kind, entry.identifier) in order
    return talk


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
        row.talk_count = sum(len(t.comments) for t in entry.threads) if entry else 0
        row.talk_about = "" if row.status == REMOVED else entry_value(row.kind, row.identifier)
