from django.urls import path

from audit import views

urlpatterns = [
    path("export.csv", views.export_download, {"fmt": "csv"}, name="audit-export-csv"),
    path("export.jsonl", views.export_download, {"fmt": "jsonl"}, name="audit-export-jsonl"),
]
