"""Browser downloads of the audit trail: the same streams as the API, behind the login."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from audit.api.views import export_filter, export_response
from audit.export import FORMATS
from audit.permissions import can_read_audit
from config.errors import InvalidInput, error_body


@require_GET
@login_required
def export_download(request, fmt: str):
    """Download the filtered audit trail as CSV or JSON Lines; a bad filter is a JSON 400."""
    if fmt not in FORMATS:
        raise PermissionDenied
    if not can_read_audit(request.user):
        raise PermissionDenied
    try:
        flt = export_filter(request.GET)
    except InvalidInput as error:
        return JsonResponse(
            error_body(error.code, error.message, error.fields), status=error.status_code
        )
    return export_response(flt, fmt)
