"""Events that leave the system (mail, webhooks), sent only after the transaction commits."""

from django.db import transaction


def notify(event: str, **objects) -> None:
    """Queue the notifications of an event once the current transaction commits."""
    payload = {
        "event": event,
        "agent": _slug(objects),
        "package_version": getattr(objects.get("package"), "version", None),
        "decision_id": getattr(objects.get("decision"), "pk", None),
        "kill_switch_webhook": objects.get("kill_switch_webhook"),
    }
    transaction.on_commit(lambda: _dispatch(payload))


def _slug(objects) -> str:
    agent = objects.get("agent") or getattr(objects.get("package"), "agent", None)
    return agent.slug if agent is not None else ""


def _dispatch(payload: dict) -> None:
    from approvals.tasks import notification_dispatch

    notification_dispatch.delay(payload)
