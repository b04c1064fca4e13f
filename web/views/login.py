"""Sign-in, the page a locked-out sign-in answers with, and signing in again (step-up).

The lockout itself is django-axes' (settings: AXES_*): it counts failed
sign-ins per client address and refuses further ones for a while; the step-up
page's password check goes through it too. Single sign-on (OIDC) is the
identity app's; this page links to it when it is configured.
"""

import time
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from audit.actors import Authentication, AuthMethod, authentication_remember


def sign_in_options() -> dict:
    """Return what the sign-in page offers: the password form, single sign-on, or both."""
    return {
        "local_login": settings.LOCAL_LOGIN,
        "oidc_enabled": settings.OIDC_ENABLED,
        "provider_name": settings.OIDC_PROVIDER_NAME,
    }


class LoginView(auth_views.LoginView):
    """Django's sign-in, on the app's own page, with single sign-on beside it when configured."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **sign_in_options()}

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN:
            context = self.get_context_data(form=self.get_form())
            return self.render_to_response({**context, "local_login_off": True}, status=403)
        return super().post(request, *args, **kwargs)


def locked_out(request, response=None, credentials=None):
    """Answer a sign-in refused by the lockout with the sign-in page, its reason and a 429.

    axes calls it for the site's sign-in, the admin's and the step-up page's alike.
    """
    context = {
        "form": AuthenticationForm(request),
        "locked": True,
        "lockout_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "next": request.POST.get("next", ""),
        **sign_in_options(),
    }
    return render(request, "registration/login.html", context, status=429)


class PasswordAgainForm(forms.Form):
    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autofocus": True})
    )


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("dashboard")


def step_up_url(next_url: str) -> str:
    return f"{reverse('step-up')}?{urlencode({'next': next_url})}"


@never_cache
@login_required
def step_up(request):
    """Authenticate the signed-in user again: at the provider for an OIDC session, else a password.

    A decision, the kill switch and a new token need a sign-in at most STEP_UP_SECONDS old.
    """
    next_url = _safe_next(request)
    current = Authentication.from_session(request.session)
    if current is not None and current.method == AuthMethod.OIDC and settings.OIDC_ENABLED:
        query = urlencode({"step_up": 1, "next": next_url})
        return redirect(f"{reverse('oidc-sign-in')}?{query}")
    form = PasswordAgainForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(
            request, username=request.user.get_username(), password=form.cleaned_data["password"]
        )
        if user is not None and user.pk == request.user.pk:
            authentication_remember(
                request.session, Authentication(method=AuthMethod.PASSWORD, at=time.time())
            )
            messages.success(request, "Thank you: you can go on for the next few minutes.")
            return redirect(next_url)
        form.add_error("password", "This is not your password.")
    context = {"form": form, "next": next_url, "minutes": settings.STEP_UP_SECONDS // 60}
    return render(request, "registration/step_up.html", context, status=400 if form.errors else 200)
