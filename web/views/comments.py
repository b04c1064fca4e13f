"""The package page's comment forms (a new comment, a reply, an answer to a decision) and
the folded comments a "Show earlier" link loads."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from approvals.comments import comment_create
from config.errors import ApplicationError, InvalidInput
from web.conversation import conversation_earlier
from web.forms.comments import FORM_KEY, NEW, CommentForm, EarlierForm
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
            page = package.get_absolute_url()
            # The page folds a long conversation; `comment` has it show the new one.
            return redirect(f"{page}?comment={comment.pk}#comment-{comment.pk}")
    # The text comes back where it was written, with the focus on it.
    form.fields["body"].widget.attrs["autofocus"] = True
    context = review_context(request, package, comment_form=form)
    return render(request, "packages/review.html", context, status=400)


@login_required
@require_GET
def package_comments_earlier(request, slug, version):
    """Show the newest of the folded comments (or threads) a "Show earlier" link names.

    htmx puts them in the link's place; without it they come as a page of their own.
    """
    package = package_or_404(request, slug, version)
    form = EarlierForm(request.GET)
    if not form.is_valid():
        fields = {name: list(problems) for name, problems in form.errors.items()}
        message = " ".join(f"{name}: {' '.join(problems)}" for name, problems in fields.items())
        return refused(request, InvalidInput(message, fields=fields), status=400)
    items = conversation_earlier(
        package,
        request.user,
        key=form.cleaned_data["of"],
        before=form.cleaned_data["before"],
        after=form.cleaned_data["after"],
    )
    if items is None:
        raise Http404("No such comments.")
    comments = form.cleaned_data["of"].startswith(("reply-", "answer-"))
    context = {"package": package, "agent": package.agent, "items": items, "comments": comments}
    template = "packages/_earlier.html" if request.htmx else "packages/earlier.html"
    return render(request, template, context)
