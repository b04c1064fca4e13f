"""The Content-Security-Policy (django-csp) on the documents a browser renders."""

from csp.middleware import CSPMiddleware


class DocumentCSPMiddleware(CSPMiddleware):
    """Send `CONTENT_SECURITY_POLICY` with HTML answers only.

    A policy governs what a rendered document may load and run. JSON, CSV and
    the evidence archives are never rendered (SecurityMiddleware sends them with
    nosniff), and building the policy for each of them would be work on every
    gate check for nothing.
    """

    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
