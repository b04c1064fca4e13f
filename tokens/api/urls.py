from django.urls import path

from tokens.api import views

PREFIX = "tokens/<token_prefix:prefix>"

urlpatterns = [
    path("tokens", views.TokenListCreateView.as_view(), name="api-token-list"),
    path(PREFIX, views.TokenDetailView.as_view(), name="api-token-detail"),
    path(f"{PREFIX}/revoke", views.TokenRevokeView.as_view(), name="api-token-revoke"),
]
