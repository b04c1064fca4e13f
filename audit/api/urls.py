from django.urls import path

from audit.api import views

urlpatterns = [
    path("audit/events", views.AuditEventListView.as_view(), name="api-audit-events"),
    path("audit/verify", views.AuditVerifyView.as_view(), name="api-audit-verify"),
    path("audit/export.csv", views.AuditExportView.as_view(), name="api-audit-export-csv"),
    path("audit/export.jsonl", views.AuditExportJsonlView.as_view(), name="api-audit-export-jsonl"),
    path("audit/checkpoints", views.CheckpointListView.as_view(), name="api-audit-checkpoints"),
    path("audit/public-key", views.PublicKeyView.as_view(), name="api-audit-public-key"),
]
