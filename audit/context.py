"""The current request id, for audit events written deep in services."""

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
