"""Verifying the chain on request: a run is asked for, walked by a job, and its progress kept.

A walk of a long chain takes minutes, longer than a page request may; so the
audit page records a `VerificationRun` and a Celery job walks the chain
(`audit.verify.audit_verify_in_steps`), writing how far it got after each
range. The run's page shows the progress and, once done, the result. Asking
and finishing are both audit events: who verified the chain, when, and what it
showed, are part of the evidence.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.models import VerificationRun, VerificationState
from audit.services import audit_record, lock_chain
from audit.verify import audit_verify_in_steps
from config.celery import job_send

logger = logging.getLogger(__name__)

VERIFICATION_TASK = "audit.tasks.audit_verification"

# A run still queued or running after this long is taken to be lost (its worker
# stopped), and a new request starts a new run; the job's time limit is below it.
RUN_STALE_AFTER = timedelta(hours=1)
# The event of a finished run, read by the audit page to word its outcome.
CHAIN_VERIFIED = "audit.chain_verified"


def verification_in_progress(*, now=None) -> VerificationRun | None:
    """Return the run that is queued or walking the chain now, if any."""
    now = now or timezone.now()
    return (
        VerificationRun.objects.filter(
            state__in=(VerificationState.QUEUED, VerificationState.RUNNING),
            created_at__gt=now - RUN_STALE_AFTER,
        )
        .order_by("-created_at")
        .first()
    )


def verification_latest() -> VerificationRun | None:
    """Return the most recently requested run."""
    return VerificationRun.objects.select_related("requested_by").first()


@transaction.atomic
def verification_request(*, actor: Actor) -> tuple[VerificationRun, bool]:
    """Ask for the chain to be verified; return the run and whether it is a new one.

    While a run is under way, asking again returns it instead of starting a
    second walk of the same chain. The job is sent once the request commits.
    """
    # The request appends to the chain anyway; taking its lock first queues a second
    # request until the first has committed its run, which the second then finds.
    lock_chain()
    current = verification_in_progress()
    if current is not None:
        return current, False
    run = VerificationRun.objects.create(
        requested_by=actor.user,
        requested_label=actor.label,
        created_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action="audit.verification_requested",
        target=run,
        data={"run": run.pk},
    )
    transaction.on_commit(lambda: _queue(run.pk, actor))
    return run, True


def _queue(run_id: int, actor: Actor) -> None:
    """Send the run to the workers by task name (the task module imports this one).

    When the broker cannot take it, the run ends at once, with its event, rather
    than waiting for ever; its page says so and offers to ask again. The one who asked
    is the event's actor: no worker ever saw the run.
    """
    if not job_send(VERIFICATION_TASK, run_id):
        _finish(
            actor,
            run_id,
            VerificationState.ERROR,
            {"ok": False, "detail": "The job could not be queued: ask again later."},
            only_from=VerificationState.QUEUED,
        )


def verification_run(*, run_id: int, step: int | None = None) -> VerificationRun | None:
    """Walk the chain for a queued run, keeping its progress; idempotent.

    A run that is not queued any more (finished, or taken by another worker) is
    left alone.
    """
    claimed = VerificationRun.objects.filter(pk=run_id, state=VerificationState.QUEUED).update(
        state=VerificationState.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None

    def progress(done: int, total: int) -> None:
        VerificationRun.objects.filter(pk=run_id).update(events_done=done, events_total=total)

    try:
        kwargs = {} if step is None else {"step": step}
        result = audit_verify_in_steps(on_progress=progress, **kwargs)
    except Exception as error:
        logger.exception("verification run %s could not finish", run_id)
        state, outcome = VerificationState.ERROR, {"ok": False, "detail": str(error)[:500]}
    else:
        state = VerificationState.PASSED if result.ok else VerificationState.FAILED
        outcome = result.as_dict()
    return _finish(Actor.system("celery:audit_verification"), run_id, state, outcome)


@transaction.atomic
def _finish(
    actor: Actor, run_id: int, state: str, outcome: dict, *, only_from: str | None = None
) -> VerificationRun | None:
    """End the run with its outcome and record the event saying what the walk showed.

    With `only_from`, a run no longer in that state is left alone and None returned.
    """
    runs = VerificationRun.objects.select_for_update(no_key=True)
    if only_from is not None:
        runs = runs.filter(state=only_from)
    run = runs.filter(pk=run_id).first()
    if run is None:
        return None
    run.state = state
    run.result = outcome
    run.finished_at = timezone.now()
    run.save(update_fields=["state", "result", "finished_at"])
    audit_record(
        actor=actor,
        action=CHAIN_VERIFIED,
        target=run,
        data={
            "run": run.pk,
            "ok": bool(outcome.get("ok")),
            "events": outcome.get("events", 0),
            "head_hash": outcome.get("head_hash", ""),
            "broken_seq": outcome.get("broken_seq"),
            "reason": outcome.get("reason", "") or outcome.get("detail", ""),
            "signing_keys": outcome.get("signing_keys", []),
        },
    )
    return run
