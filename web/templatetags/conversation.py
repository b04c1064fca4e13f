"""A comment's text on the page, in pieces the template escapes: plain text and @mentions."""

from django import template

from approvals.comments import MENTION

register = template.Library()


@register.filter
def comment_parts(body: str) -> list[tuple[str, bool]]:
    """Return the comment as (text, is_mention) pieces; a mention's text is its username.

    The template escapes every piece and marks the mentions, so nothing a person
    typed reaches the page unescaped. A full stop ending a mention ends the sentence.
    """
    parts: list[tuple[str, bool]] = []
    at = 0
    for match in MENTION.finditer(body):
        name = match.group(1).rstrip(".")
        if not name:
            continue
        parts.append((body[at : match.start()], False))
        parts.append((name, True))
        at = match.start() + 1 + len(name)
    parts.append((body[at:], False))
    return [part for part in parts if part[0]]
