"""The WSGI application, loaded whole before the first request and then frozen for the GC.

A worker's heap after loading is mostly objects that live as long as it does
(modules, URL patterns, views, serializers). Left to the garbage collector,
every full collection would walk all of them while the worker answers nothing,
which shows in the slowest requests (docs/performance.md). `gc.freeze()` moves
them out of its reach; what requests allocate is collected as before.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _load_and_freeze() -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every URLconf and view now
    gc.collect()
    gc.freeze()


_load_and_freeze()
