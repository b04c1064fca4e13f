"""Audit trail endpoints: list, verify, export, checkpoints. Thin: they call audit's functions."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.base import AnyAccept
from api.openapi import errors
from api.pagination import CursorPagination
from api.permissions import IsAuthenticated
from audit import signing
from audit.api.serializers import AuditEventSerializer, CheckpointSerializer, VerifyResultSerializer
from audit.checkpoints import checkpoint_export
from audit.export import FORMATS, ExportFilter, export_stream
from audit.filters import AuditEventFilterSet, first_of
from audit.models import AuditEvent, Checkpoint
from audit.permissions import AuditReader, SigningKeyReader
from audit.verify import audit_verify
from config.errors import InvalidInput, NotFound
from config.identifiers import IDENTIFIER_PATTERN


def _identifier(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.STR, description=description, pattern=IDENTIFIER_PATTERN
    )


FILTER_PARAMETERS = [
    OpenApiParameter(
        "since", OpenApiTypes.DATETIME, description="From (inclusive). Without an offset, UTC."
    ),
    OpenApiParameter(
        "until", OpenApiTypes.DATETIME, description="Until (exclusive). Without an offset, UTC."
    ),
    _identifier("agent", "Agent slug."),
    _identifier("actor", "Actor username or id."),
    _identifier("action", "Action, e.g. signoff.decided."),
]


class AuditApiView(APIView):
    permission_classes = [IsAuthenticated, AuditReader]
    renderer_classes = [JSONRenderer]


class NewestFirst(CursorPagination):
    ordering = "-seq"
    page_size = 50

    def paginate_parts(self, queryset, parts: list, request, view=None):
        """Paginate the events as `paginate_queryset` does, narrowed first to the first
        events of each of their `parts` (``AuditEventFilterSet.parts``) past the cursor.

        The rows DRF reads (past the cursor's position, in the cursor's direction,
        its offset and a page and one more) lie among them.
        """
        if len(parts) > 1:
            # decode_cursor checks the position against the ordering's field, which
            # paginate_queryset sets before reading the cursor: here it is read first.
            self.model, self.ordering = queryset.model, self.get_ordering(request, queryset, view)
            offset, reverse, position = self.decode_cursor(request) or (0, False, None)
            if position is not None:
                parts = [
                    part.filter(**{"seq__gt" if reverse else "seq__lt": position}) for part in parts
                ]
            limit = offset + self.get_page_size(request) + 1
            queryset = first_of(parts, "seq" if reverse else "-seq", limit)
        return self.paginate_queryset(queryset, request, view)


def agents_reached(request) -> list[str] | None:
    """Return the slugs of the agents a token bound to agents is limited to; None when unbound.

    The token (in `request.auth`; the tokens app sits above this one) answers
    this itself; a browser session is never limited this way.
    """
    slugs = getattr(request.auth, "bound_agent_slugs", None)
    return slugs() if callable(slugs) else None


def events_reached(reached: list[str] | None):
    """Return the events of the agents `reached` (`agents_reached`); every event when None."""
    events = AuditEvent.objects.all()
    return events if reached is None else events.filter(agent_slug__in=reached)


class AuditEventListView(AuditApiView, generics.ListAPIView):
    """List audit events, newest first, filtered by time range, agent, actor and action.

    A token bound to agents lists only the events of its agents.
    """

    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet
    pagination_class = NewestFirst

    def get_queryset(self):
        return events_reached(agents_reached(self.request))

    def list(self, request, *args, **kwargs):
        reached = agents_reached(request)
        events = events_reached(reached)
        filtered = self.filter_queryset(events)  # a bad filter is a 400 here
        every = AuditEvent.objects.all()
        parts = AuditEventFilterSet(request.query_params, queryset=every).parts(agents=reached)
        page = self.paginator.paginate_parts(filtered, parts, request, view=self)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        parameters=FILTER_PARAMETERS,
        responses={200: AuditEventSerializer(many=True), **errors(400, 401, 403, 404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AuditVerifyView(AuditApiView):
    @extend_schema(responses={200: VerifyResultSerializer, **errors(401, 403)})
    def get(self, request):
        """Walk the whole chain against the signed checkpoints; report the first break.

        `signing_keys` names the keys the checkpoints were checked with: the signing
        key and the retired ones still trusted, each with how many it checked. A stored
        checkpoint signed by any other key is not used, and named in `warnings`.
        """
        return Response(VerifyResultSerializer(audit_verify().as_dict()).data)


def export_filter(params, reached: list[str] | None = None) -> ExportFilter:
    """Return the export filter of query parameters, or raise InvalidInput.

    `reached` limits the export to these agents' events (a bound token's): the
    filter must then name one of them.
    """
    filterset = AuditEventFilterSet(params, queryset=AuditEvent.objects.none())
    if not filterset.is_valid():
        fields = {name: [str(m) for m in messages] for name, messages in filterset.errors.items()}
        raise InvalidInput("Invalid export filter.", fields=fields)
    flt = ExportFilter.from_cleaned(filterset.form.cleaned_data)
    if reached is not None and not flt.agent:
        message = "This token is bound to agents: name one of them, e.g. agent=<slug>."
        raise InvalidInput(message, fields={"agent": [message]})
    if reached is not None and flt.agent not in reached:
        raise NotFound("No such agent within this token's reach.")
    return flt


def export_response(flt: ExportFilter, fmt: str) -> StreamingHttpResponse:
    """Stream an export, its chain range in the headers (and, for JSON Lines, the last line)."""
    rng, chunks = export_stream(flt, fmt)
    response = StreamingHttpResponse(chunks, content_type=FORMATS[fmt])
    name = f"audit-{rng.first_seq or 0}-{rng.last_seq or 0}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    for header, value in rng.headers().items():
        response[header] = value
    return response


class AuditExportView(AnyAccept, AuditApiView):
    fmt = "csv"

    @extend_schema(
        operation_id="audit_export_csv",
        parameters=FILTER_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            **errors(400, 401, 403, 404),
        },
    )
    def get(self, request):
        """Stream the events as CSV with the chain hashes of the range in the headers.

        Headers X-Audit-First-Seq, X-Audit-Last-Seq, X-Audit-Prev-Hash and
        X-Audit-Last-Hash give the range the export covers.
        """
        return export_response(
            export_filter(request.query_params, agents_reached(request)), self.fmt
        )


class AuditExportJsonlView(AuditExportView):
    fmt = "jsonl"

    @extend_schema(
        operation_id="audit_export_jsonl",
        parameters=FILTER_PARAMETERS,
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.BINARY),
            **errors(400, 401, 403, 404),
        },
    )
    def get(self, request):
        """Stream the events as JSON Lines; the last line is the chain range they cover."""
        return export_response(
            export_filter(request.query_params, agents_reached(request)), self.fmt
        )


class CheckpointListView(AuditApiView):
    @extend_schema(responses={200: CheckpointSerializer(many=True), **errors(401, 403)})
    def get(self, request):
        """Return the newest 100 signed checkpoints, exported to be kept elsewhere."""
        newest = Checkpoint.objects.order_by("-seq", "-pk")[:100]
        return Response([checkpoint_export(cp) for cp in newest])


class PublicKeyView(AuditApiView):
    permission_classes = [IsAuthenticated, SigningKeyReader]

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **errors(401, 403)})
    def get(self, request):
        """Return the public key that checkpoints, evidence and policy bundles are signed with.

        Any signed-in user reads it, and a token with `audit:read` or
        `decisions:evaluate` (a gateway verifying the policy bundles it polls).
        `retired` lists the keys it replaced that are still trusted
        (RETIRED_SIGNING_PUBLIC_KEYS): what was signed before a rotation carries one.
        """
        return Response(
            {
                "algorithm": "Ed25519",
                "public_key": signing.public_key_pem(),
                "fingerprint": signing.fingerprint(),
                "retired": [
                    {
                        "public_key": signing.public_key_pem(key),
                        "fingerprint": signing.fingerprint(key),
                    }
                    for key in signing.retired_public_keys()
                ],
            }
        )
