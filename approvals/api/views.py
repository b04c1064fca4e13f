"""Package, review, kill-switch and release-gate endpoints: input -> service -> output."""

import logging
from collections.abc import Mapping

from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiRequest,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, generics, mixins, status
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api.serializers import AgentSerializer, SuspendSerializer
from agents.api.views import visible_agent
from agents.models import Agent
from agents.permissions import can_edit, can_suspend
from api.base import ApiMixin, JsonParser
from api.openapi import IDEMPOTENCY_KEY, errors
from api.permissions import IsAuthenticated, TokenHasScope, refuse_unless
from api.throttling import GateThrottle
from approvals import manifest as manifests
from approvals.api.gate_body import GATE_PARSERS, UnreadBody, named_agent
from approvals.api.serializers import (
    DIMENSION,
    GATE_REASONS,
    DecisionResultSerializer,
    FindingAcknowledgeSerializer,
    FindingResolveSerializer,
    FindingSerializer,
    GateCheckInputSerializer,
    GateResultSerializer,
    ManifestBody,
    PackageDiffSerializer,
    PackageListSerializer,
    PackageSerializer,
    SubmitSerializer,
    diff_shown,
    gate_request,
)
from approvals.filters import FindingFilterSet
from approvals.findings import can_handle_finding, finding_acknowledge, finding_resolve
from approvals.gate import GateResult, gate_check, gate_check_manifest, gate_refuse
from approvals.gate_vocabulary import GateReason
from approvals.models import ApprovalPackage, DriftFinding
from approvals.services import (
    agent_suspend,
    package_create,
    package_submit,
    signoff_decide,
)
from signoffs.api.serializers import DecisionInputSerializer, DecisionSerializer
from signoffs.models import Decision, SignOff
from signoffs.permissions import can_decide
from tokens.authentication import actor_for
from tokens.models import Scope
from tokens.selectors import token_binds

logger = logging.getLogger(__name__)

YAML = "application/yaml"


class YamlText(str):
    """A request body sent as YAML, kept as text for the manifest loader."""


class YamlParser(BaseParser):
    """Keep a YAML body as text: the manifest loader parses it safely and reports errors."""

    media_type = YAML

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return YamlText(stream.read().decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            raise exceptions.ParseError(f"The YAML body is not UTF-8: {error}") from None


class XYamlParser(YamlParser):
    media_type = "application/x-yaml"


class TextYamlParser(YamlParser):
    media_type = "text/yaml"


def _package_queryset(agent: Agent):
    return ApprovalPackage.objects.filter(agent=agent).select_related(
        "agent", "created_by", "submitted_by", "base"
    )


def _package_detail_queryset(agent: Agent):
    decisions = Decision.objects.select_related("reviewer", "on_behalf_of").order_by("created_at")
    signoffs = SignOff.objects.select_related("checklist", "assigned_to").prefetch_related(
        Prefetch("decisions", queryset=decisions), "checklist__items"
    )
    return _package_queryset(agent).prefetch_related(Prefetch("signoffs", queryset=signoffs))


def package_visible(request, slug: str, version: int, detail: bool = False) -> ApprovalPackage:
    """Return the version of an agent the caller may see (with its sign-offs when `detail`)."""
    agent = visible_agent(request, slug)
    queryset = _package_detail_queryset(agent) if detail else _package_queryset(agent)
    return get_object_or_404(queryset, version=version)


def _manifest_from(data) -> tuple[object, str]:
    """Return the manifest and its content type from a JSON or YAML request body."""
    if isinstance(data, YamlText):
        return str(data), YAML
    if isinstance(data, Mapping) and set(data) == {"manifest_yaml"}:
        return data["manifest_yaml"], YAML
    return data, "application/json"


MANIFEST_REQUEST = {
    "application/json": OpenApiRequest(ManifestBody),
    YAML: OpenApiRequest(str),
}


class PackageListCreateView(ApiMixin, mixins.ListModelMixin, generics.GenericAPIView):
    serializer_class = PackageListSerializer
    parser_classes = [JsonParser, YamlParser, XYamlParser, TextYamlParser]
    required_scopes = {"POST": Scope.PACKAGES_WRITE}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ApprovalPackage.objects.none()
        return _package_queryset(visible_agent(self.request, self.kwargs["slug"])).order_by(
            "-version"
        )

    @extend_schema(
        summary="List an agent's package versions, newest first",
        responses={200: PackageListSerializer(many=True), **errors(401, 403, 404)},
    )
    def get(self, request, slug):
        return self.list(request)

    @extend_schema(
        summary="Create a draft version from a manifest",
        description=(
            "The body is the manifest as JSON, or its YAML text with `Content-Type: "
            'application/yaml`, or `{"manifest_yaml": "..."}`. The answer carries the '
            "version, digest, risk tier and the diff against the last approved version."
        ),
        request=MANIFEST_REQUEST,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: PackageSerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
    )
    def post(self, request, slug):
        agent = visible_agent(request, slug)
        refuse_unless(can_edit(request.user, agent))
        manifest, content_type = _manifest_from(request.data)
        package = package_create(
            actor=actor_for(request), agent=agent, manifest=manifest, content_type=content_type
        )
        package = _package_detail_queryset(agent).get(pk=package.pk)
        return Response(PackageSerializer(package).data, status=status.HTTP_201_CREATED)


class PackageDetailView(ApiMixin, APIView):
    @extend_schema(
        summary="Retrieve a package version with its sign-offs and decisions",
        responses={200: PackageSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, slug, version):
        return Response(
            PackageSerializer(package_visible(request, slug, version, detail=True)).data
        )


class PackageSubmitView(ApiMixin, APIView):
    required_scopes = {"POST": Scope.PACKAGES_WRITE}

    @extend_schema(
        summary="Submit a draft for review",
        request=SubmitSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: PackageSerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
    )
    def post(self, request, slug, version):
        package = package_visible(request, slug, version)
        package_submit(actor=actor_for(request), package=package)
        package = package_visible(request, slug, version, detail=True)
        return Response(PackageSerializer(package).data)


class PackageDiffView(ApiMixin, APIView):
    @extend_schema(
        summary="Diff two versions of an agent's package",
        responses={200: PackageDiffSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, slug, a, b):
        agent = visible_agent(request, slug)
        packages = {
            p.version: p
            # Two exact lookups rather than `in`: Django finds nothing for a version past
            # the column's range instead of sending it to the database.
            for p in ApprovalPackage.objects.filter(Q(version=a) | Q(version=b), agent=agent).only(
                "version", "manifest"
            )
        }
        if a not in packages or b not in packages:
            raise exceptions.NotFound("No such package version.")
        diff = manifests.diff_manifests(packages[a].manifest, packages[b].manifest)
        return Response(
            {
                "agent": agent.slug,
                "from_version": a,
                "to_version": b,
                "diff": diff_shown(diff.as_dict()),
            }
        )


class DecisionCreateView(ApiMixin, APIView):
    required_scopes = {"POST": Scope.REVIEWS_WRITE}

    @extend_schema(
        summary="Decide a sign-off: approve, request changes or reject",
        description=(
            "The same who-may-decide rules as the browser; a refusal answers 403 with its "
            "reason as the error code (`not_reviewer`, `not_assigned`, `self_review`, "
            "`owner_review`, `already_decided`, `other_dimension`). Signed in (no token), "
            "the sign-in must be at most STEP_UP_SECONDS old (403 `step_up_required`); "
            "a token's decision records the authentication method `token`."
        ),
        request=DecisionInputSerializer,
        parameters=[IDEMPOTENCY_KEY, DIMENSION],
        responses={201: DecisionResultSerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
    )
    def post(self, request, slug, version, dimension):
        package = package_visible(request, slug, version)
        # A package in draft has no sign-offs, an unknown dimension none: the service says so.
        signoff = package.signoffs.filter(dimension=dimension).first()
        if signoff is not None:
            refuse_unless(can_decide(request.user, signoff))
        serializer = DecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        decision = signoff_decide(
            actor=actor_for(request),
            package=package,
            dimension=dimension,
            **serializer.validated_data,
        )
        package_state = ApprovalPackage.objects.values_list("state", flat=True).get(pk=package.pk)
        decision = Decision.objects.select_related("reviewer", "on_behalf_of", "signoff").get(
            pk=decision.pk
        )
        return Response(
            {
                "decision": DecisionSerializer(decision).data,
                "dimension": decision.signoff.dimension,
                "signoff_state": decision.signoff.state,
                "package_state": package_state,
            },
            status=status.HTTP_201_CREATED,
        )


class AgentSuspendView(ApiMixin, APIView):
    required_scopes = {"POST": Scope.REVIEWS_WRITE}

    @extend_schema(
        summary="Pull the kill switch: every gate check denies from now on",
        description=(
            "Security or PAM reviewers, staff, and whoever staff granted the agent's kill "
            "switch while they see the agent (403 `not_permitted` otherwise). A token needs "
            "`reviews:write`, which product owners never hold: one granted the kill switch "
            "pulls it signed in. Signed in (no token), the sign-in must be at most "
            "STEP_UP_SECONDS old (403 `step_up_required`)."
        ),
        request=SuspendSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: AgentSerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
    )
    def post(self, request, slug):
        agent = visible_agent(request, slug)
        refuse_unless(can_suspend(request.user, agent))
        serializer = SuspendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agent_suspend(actor=actor_for(request), agent=agent, **serializer.validated_data)
        agent = Agent.objects.prefetch_related("owners").get(pk=agent.pk)
        return Response(AgentSerializer(agent).data)


def _findings(agent: Agent):
    return DriftFinding.objects.filter(agent=agent).select_related("agent", "package")


def _finding(request, slug: str, pk: int) -> DriftFinding:
    return get_object_or_404(_findings(visible_agent(request, slug)), pk=pk)


class FindingListView(ApiMixin, mixins.ListModelMixin, generics.GenericAPIView):
    serializer_class = FindingSerializer
    filterset_class = FindingFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DriftFinding.objects.none()
        agent = visible_agent(self.request, self.kwargs["slug"])
        return _findings(agent).order_by("-last_seen", "-pk")

    @extend_schema(
        summary="List an agent's scope-drift findings, last seen first",
        responses={200: FindingSerializer(many=True), **errors(400, 401, 403, 404)},
    )
    def get(self, request, slug):
        return self.list(request)


class FindingDetailView(ApiMixin, APIView):
    @extend_schema(
        summary="Retrieve one scope-drift finding",
        responses={200: FindingSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, slug, pk):
        return Response(FindingSerializer(_finding(request, slug, pk)).data)


class _FindingActionView(ApiMixin, APIView):
    """Refuse whoever may not handle the finding, validate the body, hand the finding to its
    service, answer the finding as it now is."""

    required_scopes = {"POST": Scope.REVIEWS_WRITE}
    input_serializer: type
    service: staticmethod

    def post(self, request, slug, pk):
        finding = _finding(request, slug, pk)
        refuse_unless(can_handle_finding(request.user, finding))
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.service(actor=actor_for(request), finding=finding, **serializer.validated_data)
        return Response(FindingSerializer(_finding(request, slug, pk)).data)


def _finding_action_schema(summary: str, request):
    return extend_schema_view(
        post=extend_schema(
            summary=summary,
            request=request,
            parameters=[IDEMPOTENCY_KEY],
            responses={200: FindingSerializer, **errors(400, 401, 403, 404, 409, 422, 429)},
        )
    )


@_finding_action_schema(
    "Acknowledge an open finding: seen, still live (a critical one still denies)",
    FindingAcknowledgeSerializer,
)
class FindingAcknowledgeView(_FindingActionView):
    input_serializer = FindingAcknowledgeSerializer
    service = staticmethod(finding_acknowledge)


@_finding_action_schema("Resolve a live finding, saying how", FindingResolveSerializer)
class FindingResolveView(_FindingActionView):
    input_serializer = FindingResolveSerializer
    service = staticmethod(finding_resolve)


class GateCheckView(APIView):
    """The release gate. Kept lean: one statement each reads the token and the decision, and audits.

    A token bound to agents costs one statement more, reading whether it reaches the
    agent; any other agent is denied (agent_not_bound) without being read.

    Bad content never answers 4xx: it is a deny with a reason, so a CI step
    fails closed on it. Only a missing or insufficient token is refused.
    Idempotency-Key is accepted and ignored: the gate must answer from the
    current state, not replay an allow given before a suspension.
    """

    renderer_classes = [JSONRenderer]
    parser_classes = GATE_PARSERS
    permission_classes = [IsAuthenticated, TokenHasScope]
    throttle_classes = [GateThrottle]
    required_scopes = {"POST": Scope.GATE_CHECK}

    @extend_schema(
        summary="May this exact scope ship?",
        description=(
            "Always 200 with `decision` allow or deny; a deny lists every reason, each a "
            "machine-readable `code` and a `message`. The codes: "
            + "; ".join(f"`{code}`: {meaning}" for code, meaning in GATE_REASONS.items())
            + ". A narrowed scope and reworded narrative pass; the manifest schema's "
            "`x-change-class` says which fields are scope, commitment or narrative."
        ),
        request={"application/json": GateCheckInputSerializer},
        responses={200: GateResultSerializer, **errors(401, 403, 429)},
        examples=[
            OpenApiExample(
                "By digest",
                value={"agent": "support-assistant", "digest": "0" * 64},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        actor = actor_for(request)
        data = None
        try:
            data = request.data
            result = self._check(request, actor)
        except Exception:
            logger.exception("gate check failed")
            # Undecided, it is still a check: audited under no agent (none was read), with
            # the agent the body named, as the client asked for it.
            result = gate_refuse(
                actor=actor,
                agent_slug=named_agent(data),
                code=GateReason.INTERNAL_ERROR,
                message="The gate could not decide, so it denies.",
            )
        return Response(result.as_dict())

    def _check(self, request, actor) -> GateResult:
        data = request.data
        if isinstance(data, UnreadBody):
            return gate_refuse(
                actor=actor,
                agent_slug="",
                code=GateReason.INVALID_REQUEST,
                message="The request body is not a JSON object.",
                fields={"body": [data.detail]},
            )
        if not isinstance(data, Mapping):
            return gate_refuse(
                actor=actor,
                agent_slug="",
                code=GateReason.INVALID_REQUEST,
                message="The request body is not a JSON object.",
                fields={"body": ["Send a JSON object."]},
            )
        values, errors = gate_request(data)
        if errors:
            return gate_refuse(
                actor=actor,
                agent_slug="" if "agent" in errors else values["agent"],
                code=GateReason.INVALID_REQUEST,
                message="The gate request is not valid.",
                fields=errors,
            )
        slug = values["agent"]
        if not token_binds(request.auth, slug):
            # Decided before the agent is read: the answer says nothing of it.
            return gate_refuse(
                actor=actor,
                agent_slug=slug,
                code=GateReason.AGENT_NOT_BOUND,
                message="This token is bound to other agents; it checks only those.",
                fields={},
            )
        if "digest" in values:
            return gate_check(actor=actor, agent_slug=slug, digest=values["digest"].lower())
        if "manifest" in values:
            source, content_type = values["manifest"], "application/json"
        else:
            source, content_type = values["manifest_yaml"], YAML
        return gate_check_manifest(
            actor=actor, agent_slug=slug, source=source, content_type=content_type
        )


class ManifestSchemaView(APIView):
    """Serve the manifest's JSON Schema to anyone: it holds nothing secret."""

    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="The JSON Schema of an agent manifest",
        responses={200: ManifestBody},
        auth=[],
    )
    def get(self, request):
        return Response(manifests.manifest_schema())
