"""Reference views the benchmark compares the gate with; served only by bench/urls.py."""

from django.http import Http404, JsonResponse

from agents.models import Agent


def ping(request):
    """Answer a constant JSON document: the ceiling of the web stack."""
    return JsonResponse({"status": "ok"})


def one_query(request, pk: int):
    """Answer one agent fetched by primary key: the cost of one database round trip."""
    row = Agent.objects.filter(pk=pk).values("pk", "slug").first()
    if row is None:
        raise Http404
    return JsonResponse(row)
