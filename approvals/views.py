"""Server-rendered pages."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect

from agents.models import Agent
from approvals.models import ApprovalPackage


@login_required
def dashboard(request):
    return redirect("admin:index")


@login_required
def agent_detail(request, slug):
    agent = get_object_or_404(Agent.objects.visible_to(request.user), slug=slug)
    return redirect("admin:agents_agent_change", agent.pk)


@login_required
def package_detail(request, slug, version):
    package = get_object_or_404(
        ApprovalPackage.objects.filter(agent__in=Agent.objects.visible_to(request.user)),
        agent__slug=slug,
        version=version,
    )
    return redirect("admin:approvals_approvalpackage_change", package.pk)
