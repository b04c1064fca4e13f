"""Single sign-on's URLs; the callback's is the redirect URI registered at the provider."""

from django.urls import path

from identity.oidc import ProviderCallbackView, ProviderSignInView

urlpatterns = [
    path("authenticate/", ProviderSignInView.as_view(), name="oidc-sign-in"),
    path("callback/", ProviderCallbackView.as_view(), name="oidc-callback"),
]
