"""A package version's conversation: list its comments, write one (input, service, output)."""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, mixins, serializers, status
from rest_framework.response import Response

from agents.api.views import visible_agent
from agents.vocabulary import ScopeKind
from api.base import ApiMixin
from api.filters import IdentifierFilter
from api.openapi import IDEMPOTENCY_KEY, errors
from approvals.comments import comment_create, package_comments
from approvals.models import COMMENT_MAX_LENGTH, ApprovalPackage, Comment
from tokens.authentication import actor_for
from tokens.models import Scope


class EntryRefSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ScopeKind.choices)
    identifier = serializers.CharField(max_length=2048)


@extend_schema_field(EntryRefSerializer(allow_null=True))
class _EntryField(serializers.Field):
    def to_representation(self, comment):
        if not comment.entry_kind:
            return None
        return {"kind": comment.entry_kind, "identifier": comment.entry_identifier}


class CommentSerializer(serializers.ModelSerializer):
    package_version = serializers.IntegerField(source="package.version", read_only=True)
    author = serializers.CharField(source="author.username", read_only=True)
    entry = _EntryField(
        source="*", read_only=True, help_text="The scope entry the thread is about, if one."
    )
    parent = serializers.IntegerField(
        source="parent_id",
        read_only=True,
        allow_null=True,
        help_text="The first comment of the thread this one replies to.",
    )
    decision = serializers.IntegerField(
        source="decision_id",
        read_only=True,
        allow_null=True,
        help_text="The reviewer's decision whose thread this comment answers.",
    )
    mentions = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="username", help_text="The people it notified."
    )

    class Meta:
        model = Comment
        fields = [
            "id",
            "package_version",
            "author",
            "body",
            "entry",
            "parent",
            "decision",
            "mentions",
            "created_at",
        ]
        read_only_fields = fields


class CommentInputSerializer(serializers.Serializer):
    body = serializers.CharField(
        max_length=COMMENT_MAX_LENGTH,
        help_text="The comment; `@username` mentions (and mails) someone who may see the agent.",
    )
    entry = EntryRefSerializer(
        required=False, help_text="Comment on one scope entry of this version."
    )
    parent = serializers.IntegerField(
        required=False, min_value=1, help_text="Reply to this comment's thread."
    )
    decision = serializers.IntegerField(
        required=False, min_value=1, help_text="Answer this decision of the version's sign-offs."
    )


class CommentFilterSet(django_filters.FilterSet):
    entry_kind = django_filters.ChoiceFilter(choices=ScopeKind.choices)
    entry_identifier = IdentifierFilter()

    class Meta:
        model = Comment
        fields = ["entry_kind", "entry_identifier"]


class PackageCommentListCreateView(ApiMixin, mixins.ListModelMixin, generics.GenericAPIView):
    serializer_class = CommentSerializer
    filterset_class = CommentFilterSet
    required_scopes = {"POST": Scope.COMMENTS_WRITE}

    def _package(self) -> ApprovalPackage:
        agent = visible_agent(self.request, self.kwargs["slug"])
        package = get_object_or_404(
            ApprovalPackage.objects.select_related("agent"),
            agent=agent,
            version=self.kwargs["version"],
        )
        return package

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Comment.objects.none()
        return package_comments(self._package()).select_related("package")

    @extend_schema(
        summary="List a package version's comments, oldest first",
        description="Filter by `entry_kind` and `entry_identifier` for one scope entry's thread.",
        responses={200: CommentSerializer(many=True), **errors(400, 401, 403, 404)},
    )
    def get(self, request, slug, version):
        return self.list(request)

    @extend_schema(
        summary="Comment on a package version, one of its scope entries, or a thread",
        description=(
            "Anyone who may see the agent comments. Give at most one of `entry`, `parent` "
            "(a reply joins its thread) and `decision` (answer a reviewer's decision). "
            "Each `@username` must be someone who may see the agent; they are mailed, as is "
            "the author of the thread answered. Comments are never edited or deleted; each "
            "is an audit event (`comment.created`) and part of the evidence bundle."
        ),
        request=CommentInputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: CommentSerializer, **errors(400, 401, 403, 404, 422, 429)},
    )
    def post(self, request, slug, version):
        package = self._package()
        serializer = CommentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        comment = comment_create(
            actor=actor_for(request), package=package, **serializer.validated_data
        )
        comment = package_comments(package).select_related("package").get(pk=comment.pk)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
