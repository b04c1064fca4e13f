from django.urls import path

from signoffs.api import views

urlpatterns = [
    path("absences", views.AbsenceListCreateView.as_view(), name="api-absence-list"),
    path("absences/<int:pk>", views.AbsenceDetailView.as_view(), name="api-absence-detail"),
]
