"""Sign-in, and the page a locked-out sign-in answers with.

The lockout itself is django-axes' (settings: AXES_*): it counts failed
sign-ins per client address and refuses further ones for a while.
"""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render


class LoginView(auth_views.LoginView):
    """Django's sign-in, on the app's own page."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True


def locked_out(request, response=None, credentials=None):
    """Answer a sign-in refused by the lockout with the sign-in page, its reason and a 429.

    axes calls it for the site's sign-in and the admin's alike.
    """
    context = {
        "form": AuthenticationForm(request),
        "locked": True,
        "lockout_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        "next": request.POST.get("next", ""),
    }
    return render(request, "registration/login.html", context, status=429)
