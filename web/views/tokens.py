"""The API tokens page: a signed-in user lists, creates and revokes their own tokens."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from agents.filters import AgentFilterSet
from config.errors import InvalidInput, InvalidTransition
from tokens.selectors import tokens_list
from tokens.services import agents_bindable, token_create, token_revoke
from web import forms as web_forms
from web.views.common import actor_of, page_form, step_up_needed

# The agents a token may be bound to, searched: one page of matches.
MATCHES_SHOWN = 20


def _bindable_matches(request) -> dict:
    """Return the first page of the agents the user may bind whose slug, name or description
    holds the search (`q`), by slug, and the search if it is invalid and ignored."""
    search = QueryDict(mutable=True)
    search["q"] = request.GET.get("q", "")
    queryset = agents_bindable(request.user).order_by("slug")
    filters = AgentFilterSet(search, queryset=queryset)
    return {
        "matches": Paginator(filters.qs.only("slug", "name"), MATCHES_SHOWN).get_page(1),
        "ignored": web_forms.filters_ignored(filters.form),
    }


@never_cache
@login_required
def token_list(request):
    """List the user's tokens and create one; a new token's secret is shown on this answer only.

    The agents a token may be bound to are searched (`q`); htmx asks for the matches alone.
    """
    if request.htmx and request.method == "GET":
        return render(request, "tokens/_agents.html", _bindable_matches(request))
    if request.method == "POST":
        again = step_up_needed(request, reverse("token-list"))
        if again is not None:
            return again
    form = page_form(request, web_forms.TokenCreateForm, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, secret = token_create(
                actor=actor_of(request),
                user=request.user,
                name=data["name"],
                scopes=data["scopes"],
                agents=data["agents"],
                expires_at=timezone.now() + timedelta(days=data["days"]),
            )
        except InvalidInput as error:
            web_forms.errors_show(error, form)
        else:
            token = tokens_list(user=request.user).get(pk=token.pk)
            return render(request, "tokens/created.html", {"token": token, "secret": secret})
    context = {
        "form": form,
        "tokens": tokens_list(user=request.user),
        "q": request.GET.get("q", ""),
        **_bindable_matches(request),
    }
    return render(request, "tokens/list.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def token_revoke_view(request, prefix):
    token = get_object_or_404(tokens_list(user=request.user), prefix=prefix)
    try:
        token_revoke(actor=actor_of(request), token=token)
    except InvalidTransition as error:
        messages.info(request, error.message)
    else:
        messages.success(request, f"Token {token.prefix} ({token.name}) revoked.")
    return redirect("token-list")
