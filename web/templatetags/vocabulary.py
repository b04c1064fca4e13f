"""The one way templates show a stored value in words: ``{{ value|label:"risk_tier" }}``.

The labels are the vocabularies' own (``web.vocabulary``); a template never
shows a raw value such as ``customer_facing`` or ``in_review``.
"""

from django import template

from config.ordering import ranked
from config.roles import Group
from web import vocabulary
from web.review import signoff_shown as _signoff_shown

register = template.Library()


@register.filter
def label(value, name: str) -> str:
    """Return `value`'s human label in the vocabulary called `name`."""
    return vocabulary.label(name, value)


@register.filter
def groups_in_order(user):
    """Return the user's groups as every page lists them: in the vocabulary's order."""
    return user.groups.order_by(ranked(Group, "name"), "name")


@register.filter
def signoff_shown(signoff, package):
    """Return the sign-off's (css class, badge) in its package's state, as its card has it."""
    return _signoff_shown(package, signoff)
