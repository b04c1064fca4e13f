#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import select
import sys

# The status a shell shows for a tool that SIGPIPE stopped: 128 + the signal's number, 13.
EXIT_READER_GONE = 141


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    try:
        try:
            execute_from_command_line(sys.argv)
        finally:
            # Output still buffered fails here, not in the interpreter's last flush, which
            # would print a message of its own and exit 120.
            sys.stdout.flush()
    except BrokenPipeError:
        if not output_gone():
            raise
        reader_gone()


def output_gone() -> bool:
    """Tell whether standard output is a pipe or socket whose reader is gone.

    A BrokenPipeError is the reader gone only when standard output is what broke; one of
    a socket the run opened is an ordinary failure. poll() asks the descriptor, writing
    nothing: a writer whose reader closed is POLLERR (Linux's pipes) or POLLHUP (sockets,
    and pipes on macOS and the BSDs). Without poll() (Windows), every BrokenPipeError is
    taken for the reader gone.
    """
    if sys.stdout is None:  # started without one (>&-): nothing of it can break
        return False
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def reader_gone():
    """Stop quietly, as Unix tools do, when the output's reader (head, less, grep -m1) is gone.

    Every command's output reaches here, Django's own commands' too. Standard output is
    pointed at /dev/null first, so nothing flushes to the closed pipe again at exit.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_READER_GONE)


if __name__ == "__main__":
    main()
