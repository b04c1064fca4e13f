"""The evidence bundle download, for compliance (browser session) and `audit:read` tokens."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from agents.api.views import visible_agent
from api.base import AnyAccept
from api.openapi import errors
from api.permissions import IsAuthenticated
from approvals.evidence import package_evidence
from approvals.models import ApprovalPackage
from audit.permissions import AuditReader
from tokens.authentication import actor_for


class PackageEvidenceView(AnyAccept, APIView):
    permission_classes = [IsAuthenticated, AuditReader]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="Download the signed evidence bundle of a package version",
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY),
            **errors(401, 403, 404),
        },
    )
    def get(self, request, slug, version):
        agent = visible_agent(request, slug)
        package = get_object_or_404(ApprovalPackage, agent=agent, version=version)
        name, bundle = package_evidence(actor=actor_for(request), package=package)
        return FileResponse(
            bundle, as_attachment=True, filename=name, content_type="application/zip"
        )
