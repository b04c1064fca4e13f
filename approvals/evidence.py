"""The evidence bundle of one package version: what was approved, by whom, and the chain proving it.

This module gathers the package's records (approvals and signoffs); the signed
ZIP, its MANIFEST and the chain segment come from `audit.evidence`, which knows
nothing of packages. The thin API view at the bottom serves the bundle at
`GET /api/v1/agents/{slug}/packages/{version}/evidence`, to compliance (browser
session) and to tokens with the `audit:read` scope.
"""

import html

from django.db.models import Max, Min, Prefetch
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from agents.models import Agent
from approvals.manifest import diff_manifests
from approvals.models import ApprovalPackage
from audit import signing
from audit.actors import Actor
from audit.chain import format_time
from audit.evidence import bundle_write, dumps, segment_covering
from audit.models import AuditEvent
from audit.permissions import AuditReader
from config.errors import NotFound
from signoffs.models import Decision, SignOff


def _time(value) -> str | None:
    return format_time(value) if value is not None else None


def previous_approved(package: ApprovalPackage) -> ApprovalPackage | None:
    """Return the newest earlier version of the agent that was ever approved."""
    return (
        ApprovalPackage.objects.filter(
            agent=package.agent, version__lt=package.version, approved_at__isnull=False
        )
        .order_by("-version")
        .first()
    )


def _decision(decision: Decision, items: dict) -> dict:
    return {
        "id": decision.pk,
        "reviewer": decision.reviewer.get_username(),
        "verdict": decision.verdict,
        "comment": decision.comment,
        "created_at": _time(decision.created_at),
        "answers": decision.answers,
        "answered_items": [
            {
                "code": code,
                "answer": answer,
                "text": items[code]["text"] if code in items else "",
                "controls": items[code]["controls"] if code in items else [],
            }
            for code, answer in sorted(decision.answers.items())
        ],
    }


def _signoff(signoff: SignOff) -> dict:
    checklist = signoff.checklist
    items = {
        item.code: {
            "code": item.code,
            "text": item.text,
            "controls": item.controls,
            "required": item.required,
        }
        for item in checklist.items.all()
    }
    source = signoff.carried_over_from
    return {
        "dimension": signoff.dimension,
        "state": signoff.state,
        "required_approvals": signoff.required_approvals,
        "checklist": {
            "dimension": checklist.dimension,
            "version": checklist.version,
            "title": checklist.title,
            "items": list(items.values()),
        },
        "decisions": [_decision(d, items) for d in signoff.decisions.all()],
        "carried_over_from": None
        if source is None
        else {
            "package_version": source.package.version,
            "state": source.state,
            "decisions": [_decision(d, items) for d in source.decisions.all()],
        },
    }


def _package(package: ApprovalPackage) -> dict:
    agent = package.agent
    return {
        "agent": {
            "slug": agent.slug,
            "name": agent.name,
            "team": agent.team,
            "deployment": agent.deployment,
            "workload_id": agent.workload_id,
            "log_principal": agent.log_principal,
            "owners": sorted(owner.get_username() for owner in agent.owners.all()),
        },
        "package": {
            "version": package.version,
            "state": package.state,
            "digest": package.digest,
            "risk_tier": package.risk_tier,
            "is_recertification": package.is_recertification,
            "carried_over": package.carried_over,
            "base_version": package.base.version if package.base_id else None,
            "created_by": package.created_by.get_username(),
            "created_at": _time(package.created_at),
            "submitted_by": package.submitted_by.get_username() if package.submitted_by else None,
            "submitted_at": _time(package.submitted_at),
            "decided_at": _time(package.decided_at),
            "approved_at": _time(package.approved_at),
            "expires_at": _time(package.expires_at),
            "closed_at": _time(package.closed_at),
            "state_reason": package.state_reason,
        },
    }


def _event_range(package: ApprovalPackage, versions: set[int]) -> tuple[int, int]:
    """Return the seqs of the first and last events of the versions' lives."""
    events = AuditEvent.objects.filter(agent_slug=package.agent.slug, package_version__in=versions)
    bounds = events.aggregate(first=Min("seq"), last=Max("seq"))
    if bounds["first"] is None:
        raise NotFound("This package has no audit events.", code="no_audit_events")
    return bounds["first"], bounds["last"]


def package_evidence(*, actor: Actor, package: ApprovalPackage):
    """Build the signed evidence bundle of a package version; return (filename, file)."""
    package = (
        ApprovalPackage.objects.select_related("agent", "base", "created_by", "submitted_by")
        .prefetch_related(
            "agent__owners",
            Prefetch(
                "signoffs",
                queryset=SignOff.objects.select_related(
                    "checklist", "carried_over_from__package"
                ).prefetch_related(
                    "checklist__items",
                    "decisions__reviewer",
                    "carried_over_from__decisions__reviewer",
                ),
            ),
        )
        .get(pk=package.pk)
    )
    signoffs = [_signoff(signoff) for signoff in package.signoffs.all()]
    versions = {package.version} | {
        s["carried_over_from"]["package_version"] for s in signoffs if s["carried_over_from"]
    }
    first_seq, last_seq = _event_range(package, versions)
    segment, checkpoints = segment_covering(first_seq, last_seq, actor=actor)
    previous = previous_approved(package)
    diff = {
        "base_version": previous.version if previous else None,
        "diff": diff_manifests(previous.manifest if previous else None, package.manifest).as_dict(),
    }
    record = _package(package)
    events = AuditEvent.objects.filter(
        agent_slug=package.agent.slug, seq__gte=first_seq, seq__lte=last_seq
    )
    summary = summary_html(record, diff, signoffs, segment, checkpoints)
    files = [
        ("package.json", dumps(record)),
        ("manifest.json", dumps(package.manifest)),
        ("diff.json", dumps(diff)),
        ("signoffs.json", dumps(signoffs)),
        ("summary.html", summary.encode()),
    ]
    subject = {
        "kind": "approval_package",
        "agent": package.agent.slug,
        "version": package.version,
        "digest": package.digest,
        "event_seqs": [first_seq, last_seq],
    }
    bundle = bundle_write(
        files, subject=subject, events=events, segment=segment, checkpoints=checkpoints
    )
    return f"evidence-{package.agent.slug}-v{package.version}.zip", bundle


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _carried_note(carried: dict | None) -> str:
    return f" (carried over from v{_e(carried['package_version'])})" if carried else ""


def summary_html(record: dict, diff: dict, signoffs: list, segment, checkpoints: list) -> str:
    """Return the human-readable summary an auditor opens first."""
    agent, package = record["agent"], record["package"]
    rows = []
    for signoff in signoffs:
        decisions = list(signoff["decisions"])
        carried = signoff["carried_over_from"]
        if carried:
            decisions += carried["decisions"]
        for decision in decisions or [None]:
            if decision is None:
                rows.append(
                    f"<tr><td>{_e(signoff['dimension'])}</td><td>{_e(signoff['state'])}</td>"
                    "<td colspan=4>No decision</td></tr>"
                )
                continue
            cited = sorted({c for item in decision["answered_items"] for c in item["controls"]})
            rows.append(
                f"<tr><td>{_e(signoff['dimension'])}</td><td>{_e(signoff['state'])}"
                f"{_carried_note(carried)}"
                f"</td><td>{_e(decision['reviewer'])}</td><td>{_e(decision['verdict'])}</td>"
                f"<td>{_e(decision['created_at'])}</td><td>{_e(decision['comment'])}"
                f"<br><small>Controls: {_e(', '.join(cited)) or '-'}</small></td></tr>"
            )
    changes = [c for group in ("expansions", "narrowings", "neutral") for c in diff["diff"][group]]
    change_rows = "".join(
        f"<tr><td>{_e(c['classification'])}</td><td>{_e(c['kind'])} {_e(c['identifier'])}</td>"
        f"<td>{_e(c['field'])}</td><td>{_e(c['message'])}</td></tr>"
        for c in changes
    )
    marks = ", ".join(f"#{cp['seq']} ({_e(cp['created_at'])})" for cp in checkpoints)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Evidence: {_e(agent["slug"])} v{_e(package["version"])}</title>
<style>body{{font:14px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:4px 6px;
text-align:left;vertical-align:top}}code{{word-break:break-all}}</style></head><body>
<h1>Evidence bundle: {_e(agent["name"])} ({_e(agent["slug"])}),
version {_e(package["version"])}</h1>
<p>State <b>{_e(package["state"])}</b>, risk tier <b>{_e(package["risk_tier"])}</b>.
Submitted by {_e(package["submitted_by"])} at {_e(package["submitted_at"])};
approved at {_e(package["approved_at"])}; expires at {_e(package["expires_at"])}.</p>
<p>Scope digest <code>{_e(package["digest"])}</code>.
Workload identity <code>{_e(agent["workload_id"])}</code>.
Owners: {_e(", ".join(agent["owners"]))}.</p>
<h2>Sign-offs</h2>
<table><tr><th>Dimension</th><th>State</th><th>Reviewer</th><th>Verdict</th><th>At</th>
<th>Comment</th></tr>{"".join(rows)}</table>
<h2>Changes against the previous approved version
({_e(diff["base_version"]) if diff["base_version"] else "none: first approval"})</h2>
<table><tr><th>Classification</th><th>Entry</th><th>Field</th><th>Change</th></tr>
{change_rows}</table>
<h2>Audit chain</h2>
<p>Events {segment.first_seq} to {segment.last_seq} of the hash chain are linked in
<code>chain.jsonl</code>, starting from <code>{_e(segment.prev_hash)}</code>; the agent's events
are in full in <code>events.jsonl</code>. Signed checkpoints: {marks or "none"}.</p>
<h2>Checking this bundle</h2>
<p>Every file's SHA-256 is in <code>MANIFEST</code>, signed (Ed25519) in
<code>MANIFEST.sig</code> by the key in <code>public_key.pem</code>, fingerprint
<code>{_e(signing.fingerprint())}</code>. Run
<code>tools/verify-evidence --fingerprint {_e(signing.fingerprint())} THIS.zip</code>.</p>
</body></html>
"""


class PackageEvidenceView(APIView):
    permission_classes = [IsAuthenticated, AuditReader]
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # The body is a ZIP whatever the Accept header; errors are JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        summary="Download the signed evidence bundle of a package version",
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    def get(self, request, slug, version):
        agent = get_object_or_404(Agent.objects.visible_to(request.user), slug=slug)
        package = get_object_or_404(ApprovalPackage, agent=agent, version=version)
        token = request.auth if hasattr(request.auth, "scopes") else None
        name, bundle = package_evidence(actor=Actor.for_user(request.user, token), package=package)
        return FileResponse(
            bundle, as_attachment=True, filename=name, content_type="application/zip"
        )


# Included from config/api_urls.py under /api/v1/.
urlpatterns = [
    path(
        "agents/<slug:slug>/packages/<int:version>/evidence",
        PackageEvidenceView.as_view(),
        name="api-package-evidence",
    )
]
