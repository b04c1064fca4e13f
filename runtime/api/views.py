"""The AuthZEN endpoints, their discovery document, and the Cedar policy export.

The AuthZEN endpoints answer as the specification's HTTPS binding does: 200
with a decision (a deny is `decision: false`, never an error), and 400, 401,
403, 406, 429 or 500 with an error message string as the body (a body over the
size limit is a 400; a server error's message says nothing of its cause). They
are rate-limited per token (`THROTTLE_DECISIONS`, a batch counting once). They
take a token only (no browser session): one bound to the agent asked about, or
one with the `decisions:evaluate` scope.
"""

import logging
import math

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api.views import visible_agent
from api.openapi import ApiSchema, errors
from api.permissions import IsAuthenticated, TokenHasScope
from api.throttling import DecisionThrottle
from approvals.gate_vocabulary import GateReason
from audit import signing
from config.errors import request_too_large
from runtime.api.schema import EVALUATION_REQUEST, EVALUATIONS_REQUEST
from runtime.api.serializers import (
    AccessDecisionSerializer,
    AuthzenError,
    DiscoverySerializer,
    EvaluationsResponseSerializer,
    PolicyBundleSerializer,
)
from runtime.cedar import bundle_of
from runtime.decision import OWN_REASONS, STANDING_REASONS, Decider, Decision
from runtime.requests import (
    DENY_ON_FIRST_DENY,
    PERMIT_ON_FIRST_PERMIT,
    RequestError,
    batch_read,
    evaluation_read,
)
from runtime.usage import asker_of, outcome_of, usage_count
from tokens.authentication import TokenAuthentication
from tokens.models import Scope

logger = logging.getLogger(__name__)

THROTTLED = "Too many requests for this token; `Retry-After` says when to ask again."

SIGNATURE_HEADER = "X-Countersign-Signature"
KEY_HEADER = "X-Countersign-Key-Fingerprint"
# The gate's reasons that a decision can carry, with the decision point's own.
REASONS = "; ".join(
    f"`{code.value}`: {meaning}"
    for code, meaning in {
        **{code: code.label for code in STANDING_REASONS},
        **OWN_REASONS,
    }.items()
)


def authzen_exception_handler(exc, context):
    """Answer an error as the AuthZEN binding does: its status, a message string as the body."""
    if not isinstance(exc, exceptions.APIException):
        return None
    detail = exc.detail
    message = str(detail if isinstance(detail, str) else exc.default_detail)
    response = Response(message, status=exc.status_code)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait:
        response["Retry-After"] = str(math.ceil(wait))
    return response


class AuthzenSchema(ApiSchema):
    def error_content(self) -> dict:
        return {"application/json": {"schema": {"type": "string"}}}


# The refusals of both AuthZEN operations (406 and 500 come from ApiSchema).
ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.STR,
        description="The body is not JSON, is over the size limit, or is not a valid request.",
    ),
    401: AuthzenError,
    403: AuthzenError,
    429: OpenApiResponse(OpenApiTypes.STR, description=THROTTLED),
}


class AuthzenView(APIView):
    schema = AuthzenSchema()
    throttle_classes = [DecisionThrottle]
    renderer_classes = [JSONRenderer]
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated, TokenHasScope]
    required_scopes = {"POST": Scope.DECISIONS_EVALUATE}

    def get_exception_handler(self):
        return authzen_exception_handler

    def _data(self, request):
        # The body is read through Django first: its size check (MAX_REQUEST_BODY_BYTES)
        # applies there, and the parser then reads what is already in memory.
        try:
            request.body  # noqa: B018
        except RequestDataTooBig:
            raise exceptions.ParseError(request_too_large().message) from None
        return request.data


def _uses(token, pairs) -> list[tuple]:
    asker = asker_of(token)
    return [
        (d.agent_slug, e.resource_type, e.resource_id, e.action, outcome_of(d), asker)
        for e, d in pairs
        if d.agent_slug
    ]


class EvaluationView(AuthzenView):
    @extend_schema(
        operation_id="access_evaluation",
        summary="AuthZEN: may this agent do this now?",
        description=(
            "OpenID AuthZEN Authorization API 1.0, Access Evaluation. `decision` is true only "
            "when the agent's approved package allows exactly this request and the release gate "
            "would let the package ship now. The subject is the agent (`type` `agent`, `id` its "
            "slug or SPIFFE ID); the action's `name` an access level; the resource a scope entry "
            "(`type` its kind, `id` its identifier). Optional claims: `resource.properties` "
            "`privileged`, `trust_boundary`, `classification`; `context` `chain_depth`, "
            "`credential_ttl_seconds`, `credential_method`. A deny names its reason codes in "
            f"`context.reasons`: {REASONS}. Errors are a message string."
        ),
        request={"application/json": EVALUATION_REQUEST},
        responses={
            200: AccessDecisionSerializer,
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "A tool call",
                value={
                    "subject": {"type": "agent", "id": "support-assistant"},
                    "action": {"name": "read"},
                    "resource": {"type": "tool", "id": "kb-search"},
                    "context": {"chain_depth": 1},
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = self._data(request)
        try:
            evaluation = evaluation_read(data)
        except RequestError as error:
            return Response(error.message, status=status.HTTP_400_BAD_REQUEST)
        decision = Decider(request.auth).decide(evaluation)
        usage_count(_uses(request.auth, [(evaluation, decision)]))
        return Response(decision.as_dict())


class EvaluationsView(AuthzenView):
    @extend_schema(
        operation_id="access_evaluations",
        summary="AuthZEN: several questions in one request",
        description=(
            "OpenID AuthZEN Authorization API 1.0, Access Evaluations. The top-level `subject`, "
            "`action`, `resource` and `context` are defaults; each entry of `evaluations` "
            "overrides them key by key. `options.evaluations_semantic`: `execute_all` (the "
            "default), `deny_on_first_deny` or `permit_on_first_permit` (the answer stops at "
            "the first deny or allow). An entry that cannot be read is a deny whose context "
            "holds `error`; a default that cannot be read is a 400. Without `evaluations` the "
            "request is answered as one evaluation."
        ),
        request={"application/json": EVALUATIONS_REQUEST},
        responses={
            200: EvaluationsResponseSerializer,
            **ERRORS,
        },
    )
    def post(self, request):
        data = self._data(request)
        try:
            batch = batch_read(data)
        except RequestError as error:
            return Response(error.message, status=status.HTTP_400_BAD_REQUEST)
        decider = Decider(request.auth)
        answers, decided = [], []
        for entry in batch.entries:
            if isinstance(entry, RequestError):
                decision = Decision(False, [GateReason.INVALID_REQUEST])
                answer = decision.as_dict()
                answer["context"]["error"] = {"status": 400, "message": entry.message}
            else:
                decision = decider.decide(entry)
                decided.append((entry, decision))
                answer = decision.as_dict()
            answers.append(answer)
            if (batch.semantic == DENY_ON_FIRST_DENY and not decision.allowed) or (
                batch.semantic == PERMIT_ON_FIRST_PERMIT and decision.allowed
            ):
                break
        usage_count(_uses(request.auth, decided))
        if batch.single:
            return Response(answers[0])
        return Response({"evaluations": answers})


class DiscoveryView(APIView):
    renderer_classes = [JSONRenderer]
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="authzen_configuration",
        summary="AuthZEN: the decision point's metadata",
        responses={200: DiscoverySerializer},
    )
    def get(self, request):
        base = request.build_absolute_uri("/").rstrip("/")
        return Response(
            {
                "policy_decision_point": base,
                "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
                "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
            }
        )


class PolicyView(APIView):
    """The agent's approved scope as a signed Cedar bundle; gateways poll it with If-None-Match."""

    renderer_classes = [JSONRenderer]
    permission_classes = [IsAuthenticated, TokenHasScope]
    required_scopes: dict = {}
    read_scope = Scope.DECISIONS_EVALUATE

    @extend_schema(
        operation_id="agent_policy",
        summary="The agent's approved scope as a signed Cedar policy bundle",
        description=(
            "Cedar policies (one permit per approved entry), the Cedar schema and the entities "
            "a gateway needs, with the approval's digest and expiry. Canonical JSON; its "
            f"detached Ed25519 signature (base64, by the evidence key) is in `{SIGNATURE_HEADER}`"
            f", the key's SHA-256 fingerprint in `{KEY_HEADER}`. The `ETag` is the SHA-256 "
            "of the body: send it as `If-None-Match` to get 304 while nothing changed. A "
            "suspended or expired agent's bundle, or one with open critical drift or nothing "
            "approved, forbids everything. Requests to it carry `context.now` (seconds since "
            "the epoch): no permit holds past the approval's expiry. `?download=1` serves the "
            "bundle as a file, `?download=signature` its signature as a file."
        ),
        parameters=[
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, required=False),
            OpenApiParameter(
                "download",
                str,
                OpenApiParameter.QUERY,
                required=False,
                description=(
                    "`signature`: the bundle's signature as a text file; any other value: "
                    "the bundle as a file."
                ),
            ),
        ],
        responses={
            (200, "application/json"): PolicyBundleSerializer,
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="With `?download=signature`: the signature."
            ),
            304: OpenApiResponse(description="The bundle is unchanged since that ETag."),
            **errors(401, 403, 404),
        },
    )
    def get(self, request, slug):
        agent = visible_agent(request, slug)
        body, etag, signature = bundle_of(agent)
        if etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = HttpResponse(body, content_type="application/json")
            response[SIGNATURE_HEADER] = signature
            response[KEY_HEADER] = signing.fingerprint()
        response["ETag"] = etag
        response["Cache-Control"] = "no-cache"
        download = request.query_params.get("download")
        if download == "signature" and response.status_code == status.HTTP_200_OK:
            # The signature alone, as a file beside the bundle for offline checks.
            response = HttpResponse(response[SIGNATURE_HEADER] + "\n", content_type="text/plain")
            response["Content-Disposition"] = f'attachment; filename="{agent.slug}.cedar.json.sig"'
        elif download:
            response["Content-Disposition"] = f'attachment; filename="{agent.slug}.cedar.json"'
        return response
