"""The JSON Schemas of the AuthZEN request bodies, as the OpenAPI schema shows them.

Written out rather than built from serializers: a batch is either one evaluation
or a list of entries, its entries are free-form objects (an entry that cannot
be read is a deny, not a 400), and the claims have the bounds
`runtime.requests.CLAIMS` checks. tests/api/test_schema.py holds the
endpoints to these schemas both ways (what they accept, what they refuse).
"""

from config.identifiers import IDENTIFIER_PATTERN
from runtime.requests import MAX_EVALUATIONS, MAX_ID_LENGTH, SEMANTICS

# Ids and names are identifiers: no control or format characters (config.identifiers).
# The pattern goes in allOf beside the lengths, as api.openapi puts it.
_TEXT = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_ID_LENGTH,
    "allOf": [{"pattern": IDENTIFIER_PATTERN}],
}
_WORD = {"type": "string", "minLength": 1, "maxLength": 64}
_OBJECT = {"type": "object"}
_COUNT_MAX = 2**53 - 1


def _entity(key: str, description: str, properties: dict | None = None) -> dict:
    fields = {"type": _TEXT, "id": _TEXT} if key == "id" else {"name": _TEXT}
    extra = {"type": "object", "properties": properties} if properties else _OBJECT
    return {
        "type": "object",
        "description": description,
        "required": list(fields),
        "properties": {**fields, "properties": extra},
    }


SUBJECT = _entity("id", "The agent: `type` `agent`, `id` its slug or SPIFFE ID.")
ACTION = _entity("name", "`name`: the access level asked for (read, write, execute, admin).")
RESOURCE = _entity(
    "id",
    "The scope entry: `type` its kind (action, tool, dataset, endpoint, external_api), "
    "`id` its identifier. Optional claims in `properties`.",
    {"privileged": {"type": "boolean"}, "trust_boundary": _WORD, "classification": _WORD},
)
CONTEXT = {
    "type": "object",
    "description": "Optional claims: `chain_depth` (0 for a direct call), "
    "`credential_ttl_seconds`, `credential_method`; anything else (`end_user`) is ignored.",
    "properties": {
        "chain_depth": {"type": "integer", "minimum": 0, "maximum": _COUNT_MAX},
        "credential_ttl_seconds": {"type": "integer", "minimum": 1, "maximum": _COUNT_MAX},
        "credential_method": _WORD,
    },
}
ENTITIES = {"subject": SUBJECT, "action": ACTION, "resource": RESOURCE, "context": CONTEXT}

EVALUATION_REQUEST = {
    "type": "object",
    "required": ["subject", "action", "resource"],
    "properties": ENTITIES,
}
EVALUATIONS_REQUEST = {
    "type": "object",
    "description": "Top-level `subject`, `action`, `resource` and `context` are defaults each "
    "entry overrides key by key. Without entries, the request is one evaluation.",
    "properties": {
        **ENTITIES,
        "evaluations": {
            "type": "array",
            "maxItems": MAX_EVALUATIONS,
            "items": {"type": "object", "description": "An evaluation, keys as above."},
        },
        "options": {
            "type": "object",
            "properties": {"evaluations_semantic": {"enum": list(SEMANTICS)}},
        },
    },
    "anyOf": [
        {"required": ["subject", "action", "resource"]},
        {"required": ["evaluations"], "properties": {"evaluations": {"minItems": 1}}},
    ],
}

# The operations whose bodies are the raw schemas above. drf-spectacular marks a
# request body required only when it comes from a serializer with required fields.
OPERATIONS = ("access_evaluation", "access_evaluations")


def require_bodies(result, generator, request, public):
    """Mark the AuthZEN request bodies required: every evaluation request has one.

    A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).
    """
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if operation.get("operationId") in OPERATIONS and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result
