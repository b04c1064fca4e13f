"""How a form's errors are listed above it: ``{{ form|form_problems }}``."""

from django import template

from web.forms.errors import form_problems as _form_problems

register = template.Library()


@register.filter
def form_problems(form):
    """Return (label, message, anchor id) of each of the form's errors, in its order."""
    return _form_problems(form)
