"""Real concurrent transactions on PostgreSQL, lined up by locks rather than by timing.

Each side of a race runs in a thread of its own, with its own connection. A
test holds one side open at a known point (a transaction left open in its
thread, or a lock taken from a connection of the test's own, `Held`), waits
until the other side is blocked on a lock (`blocked`), then lets the first go
on: the interleaving is the same on every run.
"""

import threading

import psycopg
from django.db import connection, transaction

from audit.chain import CHAIN_LOCK_KEY
from tests.jobs.conftest import wait_for


def closing(function, errors: list | None = None):
    """Return a thread's target: run the function, keep its error in `errors`, close the
    thread's connection."""

    def run():
        try:
            function()
        except Exception as error:  # noqa: BLE001 - reported to the test by `errors`
            if errors is None:
                raise
            errors.append(error)
        finally:
            connection.close()

    return run


def start(*functions, errors: list | None = None) -> list[threading.Thread]:
    """Start each function in a thread of its own; their errors go to `errors`."""
    threads = [threading.Thread(target=closing(function, errors)) for function in functions]
    for thread in threads:
        thread.start()
    return threads


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a thread is still waiting"


def run_together(functions) -> None:
    """Run the functions in threads released at the same moment; fail on their errors."""
    barrier = threading.Barrier(len(functions))
    errors: list = []

    def released(function):
        def run():
            barrier.wait()
            function()

        return run

    join(start(*(released(f) for f in functions), errors=errors))
    assert not errors, errors


def waiting_on_a_lock() -> int:
    """Return how many of the test database's connections wait for a lock now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def blocked(count: int, what: str) -> None:
    """Wait until `count` connections wait for a lock; fail the test if they never do."""
    wait_for(lambda: waiting_on_a_lock() == count, message=what)


def raced(first, second) -> list[Exception]:
    """Run `first` in a transaction held open, then `second`; commit `first` once `second`
    waits for one of its locks. Return the errors either raised."""
    ran, commit = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def first_held_open():
        try:
            with transaction.atomic():
                first()
                ran.set()
                commit.wait(timeout=30)  # its locks are held while `second` runs into them
        finally:
            ran.set()

    def second_after():
        ran.wait(timeout=30)
        second()

    threads = start(first_held_open, second_after, errors=errors)
    blocked(1, "the second transaction to wait for the first")
    commit.set()
    join(threads)
    return errors


class Held:
    """Hold locks from a connection of the test's own, outside Django's, until `release`.

    The statement runs in a transaction left open: a row it locks FOR UPDATE, or a
    transaction-level advisory lock it takes, stays held until `release` ends it.
    """

    def __init__(self, sql: str, params=()):
        settings = connection.settings_dict
        self.connection = psycopg.connect(
            host=settings.get("HOST") or "127.0.0.1",
            port=settings.get("PORT") or 5432,
            user=settings.get("USER") or "postgres",
            password=settings.get("PASSWORD") or None,
            dbname=settings["NAME"],
        )
        self.connection.execute(sql, params)

    def release(self) -> None:
        self.connection.rollback()

    def __enter__(self) -> "Held":
        return self

    def __exit__(self, *exc) -> None:
        self.connection.close()


def chain_held() -> Held:
    """Hold the audit chain's lock: every transaction that appends an event waits for it."""
    return Held("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def queued(held: Held, *functions) -> list[Exception]:
    """Start the functions one at a time, each once the ones before wait for a lock, behind
    what `held` holds; then release it and return their errors.

    The functions queue for the lock in the order given, so they take it in that order.
    """
    errors: list[Exception] = []
    threads: list[threading.Thread] = []
    for waiting, function in enumerate(functions, start=1):
        threads += start(function, errors=errors)
        blocked(waiting, f"function {waiting} to wait for a lock")
    held.release()
    join(threads)
    return errors


def queued_behind_the_chain(*functions) -> list:
    """Run the functions as `queued` does, behind the audit chain's lock; fail on their
    errors; return what each returned, in the order given rather than the order they ended."""
    returned = [None] * len(functions)

    def keeping(index, function):
        def run():
            returned[index] = function()

        return run

    with chain_held() as held:
        errors = queued(held, *(keeping(index, f) for index, f in enumerate(functions)))
    assert not errors, errors
    return returned
