"""The conversation on a package: comments on it, on its scope entries and on its decisions.

Whoever may see the package's agent (`Agent.objects.visible_to`: its owners and
their team, reviewers, compliance officers, staff) may read and write its
comments. A comment is append-only and audited whole (`comment.created`); the
people it mentions (`@username`, who must see the package too) and the author of
the thread it answers are notified by mail through the outbox.
"""

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Prefetch

from agents.membership import actor_user_lock
from agents.permissions import ALLOWED, Check, sees_agent
from agents.vocabulary import ScopeKind
from approvals.locks import package_lock
from approvals.models import COMMENT_MAX_LENGTH, COMMENT_MAX_MENTIONS, ApprovalPackage, Comment
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, NotPermitted
from config.usernames import users_named
from outbox.services import notify
from signoffs.models import Decision

# An @ not inside a word or an e-mail address, then a username (Django's characters
# but @); a trailing full stop ends the sentence, not the name.
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]+)")

COMMENT_EVENT = "comment.created"
MENTIONED_EVENT = "comment.mentioned"
REPLIED_EVENT = "comment.replied"


def can_comment(user, package: ApprovalPackage) -> Check:
    """Return whether the user may comment on the package: whoever may see its agent."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Check(False, "not_authenticated", "Sign in first.")
    if not sees_agent(user, package.agent):
        return Check(False, "not_visible", "Only people who may see the agent comment on it.")
    return ALLOWED


def mentioned_names(body: str) -> list[str]:
    """Return the usernames a text mentions, in order, each once."""
    names = (match.rstrip(".") for match in MENTION.findall(body))
    return list(dict.fromkeys(name for name in names if name))


def _invalid(field: str, problem: str) -> InvalidInput:
    return InvalidInput(problem, fields={field: [problem]})


def _body_checked(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise _invalid("body", "Write a comment.")
    if len(body) > COMMENT_MAX_LENGTH:
        raise _invalid("body", f"At most {COMMENT_MAX_LENGTH} characters ({len(body)} given).")
    if "\x00" in body:
        raise _invalid("body", "The comment holds a NUL character.")
    return body


def _mentions_checked(body: str, package: ApprovalPackage) -> list:
    """Return the users the body mentions, or refuse a name that is nobody or cannot see it.

    A name that is no one's, a deactivated user's or that of someone who cannot see
    the agent is refused in the same words: the commenter may not see who else has an
    account, so the answer does not tell whether the name is someone's.
    """
    names = mentioned_names(body)
    if len(names) > COMMENT_MAX_MENTIONS:
        raise _invalid("body", f"Mention at most {COMMENT_MAX_MENTIONS} people in one comment.")
    users = users_named(names)
    problems = [
        f"@{name} cannot be mentioned: mention only people who may see {package.agent.slug}."
        for name in names
        if users[name] is None
        or not users[name].is_active
        or not sees_agent(users[name], package.agent)
    ]
    if problems:
        raise InvalidInput(" ".join(problems), code="invalid_mention", fields={"body": problems})
    # "@Dana" and "@dana" mention one person, once.
    return list({user.pk: user for user in users.values()}.values())


def _entry_checked(package: ApprovalPackage, entry: dict | None) -> tuple[str, str]:
    """Return the (kind, identifier) of the package's scope entry named, or ("", "")."""
    if not entry:
        return "", ""
    kind, identifier = entry.get("kind") or "", entry.get("identifier") or ""
    if kind not in ScopeKind.values:
        raise _invalid("entry", f"Unknown entry kind {kind!r}: one of {', '.join(ScopeKind)}.")
    if not package.entries.filter(kind=kind, identifier=identifier).exists():
        raise _invalid(
            "entry", f"v{package.version} has no {ScopeKind(kind).label.lower()} {identifier!r}."
        )
    return kind, identifier


def comment_link(comment: Comment) -> str:
    """Return the address of the comment on its package's page."""
    page = comment.package.get_absolute_url()
    # The page folds a long conversation; `comment` has it show this one.
    return f"{settings.COUNTERSIGN['SITE_URL']}{page}?comment={comment.pk}#comment-{comment.pk}"


@transaction.atomic
def comment_create(
    *,
    actor: Actor,
    package: ApprovalPackage,
    body: str,
    entry: dict | None = None,
    parent: Comment | int | None = None,
    decision: Decision | int | None = None,
) -> Comment:
    """Write a comment on the package, one of its scope entries, or in reply to a thread.

    `entry` is {"kind", "identifier"} of a scope entry of this version; `parent`
    a comment of this package (a reply joins its first comment's thread);
    `decision` a decision on this package's sign-offs, whose thread the comment
    answers. A reply names neither entry nor decision beside its parent. The
    comment and its audit event commit together; mails go out after the commit.
    """
    if actor.user is None:
        raise NotPermitted("Comments are written by people.", code="not_a_person")
    # Sight of the agent is read under the locks its changes take (approvals.locks), so
    # a comment racing its author's removal waits for it and is refused.
    package = package_lock(package)
    check = can_comment(actor_user_lock(actor=actor), package)
    if not check:
        raise NotPermitted(check.message, code=check.code)
    body = _body_checked(body)
    given = [name for name, value in (("parent", parent), ("decision", decision)) if value]
    if len(given) > 1 or (given and entry):
        names = " and ".join([*given, *(["entry"] if entry else [])])
        raise _invalid(given[-1], f"Give one of parent, decision or entry, not {names}.")
    kind, identifier = _entry_checked(package, entry)
    root = decision_row = None
    if parent:
        pk = parent.pk if isinstance(parent, Comment) else parent
        root = Comment.objects.filter(package=package, pk=pk).first()
        if root is None:
            raise _invalid("parent", f"v{package.version} has no comment {pk}.")
        # A reply to a reply joins the thread of the first comment, as flat replies.
        if root.parent_id is not None:
            root = root.parent
        kind, identifier, decision_row = root.entry_kind, root.entry_identifier, root.decision
    elif decision:
        pk = decision.pk if isinstance(decision, Decision) else decision
        decision_row = (
            Decision.objects.select_related("reviewer", "signoff")
            .filter(signoff__package=package, pk=pk)
            .first()
        )
        if decision_row is None:
            raise _invalid("decision", f"v{package.version} has no decision {pk}.")
    if root is not None and root.decision_id is not None:
        # The thread of a decision has no first comment: a reply answers the decision.
        root = None
    mentioned = _mentions_checked(body, package)
    comment = Comment.objects.create(
        package=package,
        author=actor.user,
        body=body,
        entry_kind=kind,
        entry_identifier=identifier,
        parent=root,
        decision=decision_row,
    )
    comment.mentions.set(mentioned)
    audit_record(
        actor=actor,
        action=COMMENT_EVENT,
        target=comment,
        agent_slug=package.agent.slug,
        package_version=package.version,
        data=comment_record(comment, mentioned),
    )
    _notify(comment, mentioned)
    return comment


def comment_record(comment: Comment, mentioned: list) -> dict:
    """Return what the audit event and the evidence bundle keep of a comment."""
    return {
        "body": comment.body,
        "entry_kind": comment.entry_kind,
        "entry_identifier": comment.entry_identifier,
        "parent": comment.parent_id,
        "decision": comment.decision_id,
        "mentions": sorted(user.get_username() for user in mentioned),
    }


def _thread_author(comment: Comment):
    if comment.parent_id is not None:
        return comment.parent.author
    if comment.decision_id is not None:
        return comment.decision.reviewer
    return None


def _notify(comment: Comment, mentioned: list) -> None:
    """Mail the people mentioned, and the author of the thread answered, after the commit."""
    author = comment.author
    data = {
        "commenter": author.get_username(),
        "comment": comment.body,
        "about": _about(comment),
        "link": comment_link(comment),
    }
    mailed = {author.pk}
    people = [user for user in mentioned if user.pk not in mailed and user.email]
    if people:
        notify(
            MENTIONED_EVENT,
            package=comment.package,
            data={**data, "recipients": sorted({user.email for user in people})},
        )
    mailed |= {user.pk for user in mentioned}
    answered = _thread_author(comment)
    if (
        answered is not None
        and answered.pk not in mailed
        and answered.email
        and sees_agent(answered, comment.package.agent)
    ):
        notify(
            REPLIED_EVENT, package=comment.package, data={**data, "recipients": [answered.email]}
        )


def _about(comment: Comment) -> str:
    """Return what the comment is about, in words."""
    if comment.entry_kind:
        label = ScopeKind(comment.entry_kind).label.lower()
        return f"the {label} {comment.entry_identifier}"
    if comment.decision_id is not None:
        decision = comment.decision
        return (
            f"the {decision.signoff.get_dimension_display()} decision of "
            f"{decision.reviewer.get_username()}"
        )
    return f"{comment.package.agent.slug} v{comment.package.version}"


def package_comments(package: ApprovalPackage):
    """Return the package's comments, oldest first, with their authors and mentions."""
    return (
        Comment.objects.filter(package=package)
        .select_related("author")
        .prefetch_related(Prefetch("mentions", get_user_model().objects.order_by("username")))
        .order_by("created_at", "pk")
    )


def package_comments_outline(package: ApprovalPackage):
    """Return the package's comments, oldest first, as (pk, parent_id, decision_id,
    entry_kind, entry_identifier): where each one is, without its text or author."""
    return (
        Comment.objects.filter(package=package)
        .order_by("created_at", "pk")
        .values_list("pk", "parent_id", "decision_id", "entry_kind", "entry_identifier")
    )
