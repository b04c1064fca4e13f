"""Read AuthZEN Authorization API 1.0 requests: one evaluation, or a batch with its defaults.

An evaluation names a subject (the agent: ``type`` "agent", ``id`` its slug or
SPIFFE ID), an action (``name``: the access level asked for), a resource (the
scope entry: ``type`` its kind, ``id`` its identifier) and a context. The
claims a request may make beyond the entry and the access level are listed in
CLAIMS; a claim left out is not compared. Unknown fields are ignored, as the
specification asks.
"""

from dataclasses import dataclass, field

from config.identifiers import identifier_message

# Evaluations per batch request; a larger batch is refused whole (400).
MAX_EVALUATIONS = 1000
MAX_ID_LENGTH = 2048
EXECUTE_ALL = "execute_all"
DENY_ON_FIRST_DENY = "deny_on_first_deny"
PERMIT_ON_FIRST_PERMIT = "permit_on_first_permit"
SEMANTICS = (EXECUTE_ALL, DENY_ON_FIRST_DENY, PERMIT_ON_FIRST_PERMIT)
ENTITIES = ("subject", "action", "resource", "context")


def _boolean(value) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _word(value) -> str | None:
    ok = isinstance(value, str) and 0 < len(value) <= 64
    return None if ok else "must be a string of 1 to 64 characters"


def _count(minimum: int):
    def check(value) -> str | None:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool) and minimum <= value < 2**53
        return None if ok else f"must be an integer of at least {minimum}"

    return check


# The claims a request may make, where it makes them, and how each is checked: the
# entry's own fields under resource.properties, the call's circumstances in context.
CLAIMS = {
    "privileged": ("resource", _boolean),
    "trust_boundary": ("resource", _word),
    "classification": ("resource", _word),
    "chain_depth": ("context", _count(0)),
    "credential_ttl_seconds": ("context", _count(1)),
    "credential_method": ("context", _word),
}


class RequestError(Exception):
    """A request the decision point cannot read: 400 for a whole payload, a deny for one entry."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Evaluation:
    """One access question, read and checked."""

    subject_type: str
    subject_id: str
    action: str
    resource_type: str
    resource_id: str
    claims: dict = field(default_factory=dict)

    def as_request(self) -> dict:
        """Return the evaluation as an AuthZEN request object (claims where they are made)."""
        resource = {"type": self.resource_type, "id": self.resource_id}
        context = {}
        for name, value in self.claims.items():
            if CLAIMS[name][0] == "resource":
                resource.setdefault("properties", {})[name] = value
            else:
                context[name] = value
        return {
            "subject": {"type": self.subject_type, "id": self.subject_id},
            "action": {"name": self.action},
            "resource": resource,
            "context": context,
        }


def _entity(data: dict, name: str, key: str) -> tuple[str, ...]:
    if name not in data:
        raise RequestError(f"{name} is required.")
    value = data[name]
    if not isinstance(value, dict):
        raise RequestError(f"{name} must be an object.")
    if "properties" in value and not isinstance(value["properties"], dict):
        raise RequestError(f"{name}.properties must be an object.")
    keys = ("type", key) if key == "id" else (key,)
    found = []
    for part in keys:
        text = value.get(part)
        if not isinstance(text, str) or not text or len(text) > MAX_ID_LENGTH:
            raise RequestError(
                f"{name}.{part} is required: a string of 1 to {MAX_ID_LENGTH} characters."
            )
        problem = identifier_message(text)
        if problem:
            raise RequestError(f"{name}.{part}: {problem}")
        found.append(text)
    return tuple(found)


def evaluation_read(data) -> Evaluation:
    """Return the evaluation a request object asks, or raise RequestError saying what is wrong."""
    if not isinstance(data, dict):
        raise RequestError("The request must be a JSON object.")
    subject_type, subject_id = _entity(data, "subject", "id")
    (action,) = _entity(data, "action", "name")
    resource_type, resource_id = _entity(data, "resource", "id")
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise RequestError("context must be an object.")
    places = {"resource": data["resource"].get("properties", {}), "context": context}
    claims = {}
    for name, (place, check) in CLAIMS.items():
        if name in places[place]:
            value = places[place][name]
            problem = check(value)
            where = "resource.properties" if place == "resource" else "context"
            if problem:
                raise RequestError(f"{where}.{name} {problem}.")
            claims[name] = int(value) if isinstance(value, float) else value
    return Evaluation(subject_type, subject_id, action, resource_type, resource_id, claims)


def _defaults_check(defaults: dict) -> None:
    """Raise RequestError for a top-level default that no entry could use as it is."""
    complete = {
        "subject": {"type": "agent", "id": "x"},
        "action": {"name": "read"},
        "resource": {"type": "tool", "id": "x"},
    }
    evaluation_read({**complete, **defaults})


@dataclass(frozen=True)
class Batch:
    """A batch request: each entry an Evaluation, or the RequestError that entry raised."""

    entries: list
    semantic: str = EXECUTE_ALL
    single: bool = False  # no evaluations: answered as one evaluation


def batch_read(data) -> Batch:
    """Read an evaluations request: top-level defaults, each entry's overrides, the options.

    Raise RequestError for a payload that cannot be read as a whole; an entry
    that cannot be read is kept as its error (answered as a deny).
    """
    if not isinstance(data, dict):
        raise RequestError("The request must be a JSON object.")
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise RequestError("options must be an object.")
    semantic = options.get("evaluations_semantic", EXECUTE_ALL)
    if semantic not in SEMANTICS:
        raise RequestError(f"options.evaluations_semantic must be one of: {', '.join(SEMANTICS)}.")
    evaluations = data.get("evaluations", [])
    if not isinstance(evaluations, list):
        raise RequestError("evaluations must be an array.")
    if not evaluations:
        return Batch([evaluation_read(data)], semantic, single=True)
    if len(evaluations) > MAX_EVALUATIONS:
        raise RequestError(f"At most {MAX_EVALUATIONS} evaluations per request.")
    for index, entry in enumerate(evaluations):
        if not isinstance(entry, dict):
            raise RequestError(f"evaluations[{index}] must be an object.")
    defaults = {name: data[name] for name in ENTITIES if name in data}
    _defaults_check(defaults)
    entries = []
    for index, entry in enumerate(evaluations):
        merged = {**defaults, **entry}
        try:
            entries.append(evaluation_read(merged))
        except RequestError as error:
            entries.append(RequestError(f"evaluations[{index}]: {error.message}"))
    return Batch(entries, semantic)
