"""The package page's comment forms: a new comment, a reply, an answer to a decision."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from approvals.comments import comment_create
from config.errors import ApplicationError, InvalidInput
from web.forms.comments import FORM_KEY, NEW, CommentForm
from web.views.common import actor_of, package_or_404, refused
from web.views.packages import review_context


def _with_errors(form: CommentForm, error: InvalidInput, entries: list) -> CommentForm:
    """Return the form to show again with the service's errors beside their fields.

    A thread that is not on the page (a reply to no comment of the version) has no
    form to show them in: the text moves to the new comment's form, with the reason.
    """
    if {"parent", "decision"} & set(error.fields):
        moved = CommentForm({"body": form.cleaned_data["body"]}, key=NEW, entries=entries)
        moved.is_valid()
        moved.add_error(None, f"{error.message} Your text is kept here.")
        return moved
    for field, problems in error.fields.items():
        for problem in problems:
            form.show_error(field, problem)
    if not error.fields:
        form.add_error(None, error.message)
    return form


@login_required
@require_POST
def package_comment(request, slug, version):
    """Post a comment; on an error, show the page again with the text kept and the error."""
    package = package_or_404(request, slug, version)
    key = request.POST.get("thread", "")
    if not FORM_KEY.match(key):
        return refused(request, InvalidInput("No such comment form.", code="invalid"), status=400)
    entries = list(package.entries.order_by("kind", "identifier").values_list("kind", "identifier"))
    form = CommentForm(request.POST, key=key, entries=entries)
    if form.is_valid():
        try:
            comment = comment_create(
                actor=actor_of(request),
                package=package,
                body=form.cleaned_data["body"],
                **form.target(),
            )
        except InvalidInput as error:
            form = _with_errors(form, error, entries)
        except ApplicationError as error:
            return refused(request, error)
        else:
            messages.success(request, "Your comment is posted.")
            return redirect(f"{package.get_absolute_url()}#comment-{comment.pk}")
    # The text comes back where it was written, with the focus on it.
    form.fields["body"].widget.attrs["autofocus"] = True
    context = review_context(request, package, comment_form=form)
    return render(request, "packages/review.html", context, status=400)
