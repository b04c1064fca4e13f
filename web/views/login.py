"""Sign-in, with repeated failures for one username from one address locked out for a while."""

import hashlib
from functools import wraps

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.shortcuts import render
from django.utils.decorators import method_decorator

# Sign-in attempts: this many failures for one username from one address within
# the window lock further attempts out until it passes. There is no limit per
# address alone: behind a proxy every person shares one address.
LOGIN_MAX_FAILURES = 5
LOGIN_WINDOW_SECONDS = 15 * 60


def _login_key(request, username: str) -> str:
    address = request.META.get("REMOTE_ADDR", "")
    who = hashlib.sha256(f"{address}|{username.strip().lower()}".encode()).hexdigest()
    return f"login-fail:{who}"


def login_rate_limited(view):
    """Wrap a sign-in view: refuse attempts after repeated failures, count the failures.

    A failed attempt is one answered by showing the form again (200); success
    redirects and clears the count. Used for the site's and the admin's sign-in.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        key = _login_key(request, request.POST.get("username", ""))
        if (cache.get(key) or 0) >= LOGIN_MAX_FAILURES:
            context = {
                "form": AuthenticationForm(request),
                "locked": True,
                "next": request.POST.get("next", ""),
            }
            return render(request, "registration/login.html", context, status=429)
        response = view(request, *args, **kwargs)
        if response.status_code == 200:
            cache.add(key, 0, LOGIN_WINDOW_SECONDS)
            cache.incr(key)
        else:
            cache.delete(key)
        return response

    return wrapped


@method_decorator(login_rate_limited, name="post")
class LoginView(auth_views.LoginView):
    """Django's sign-in, refusing further attempts after repeated failures."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True
