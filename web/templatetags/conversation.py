"""A comment's text on the page: escaped, its line breaks kept and its @mentions marked."""

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from approvals.comments import MENTION

register = template.Library()


def _mention(match) -> str:
    name = match.group(1)
    bare = name.rstrip(".")
    return f'<span class="mention">@{bare}</span>{name[len(bare) :]}' if bare else match.group(0)


@register.filter
def comment_text(body: str) -> str:
    """Return the comment as safe HTML: everything escaped first, then only marks added.

    Escaping leaves no `@` and no username character inside an entity's reach (the
    mention pattern's characters are letters, digits and `.+-_`), so marking the
    mentions of the escaped text cannot open a tag.
    """
    text = escape(body).replace("\r\n", "\n")
    return mark_safe(MENTION.sub(_mention, text).replace("\n", "<br>"))  # noqa: S308 - escaped above
