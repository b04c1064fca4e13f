"""The approved scope as a Cedar policy bundle a gateway enforces locally, signed.

One permit per approved entry: its agent, the access levels at or below the
approved one, and conditions on the claims a request may make (those of
`runtime.requests.CLAIMS`), each listing the values the manifest diff does not
count as widening (`approvals.manifest.widens`), or bounding a number by the
approved one. Every permit also holds only before the approval's expiry
(`context.now`, seconds since the epoch, which the gateway supplies). An agent
the gate would stop (suspended, expired, open critical drift, nothing
approved) gets a bundle of one `forbid` and no permit: it denies everything.

The bundle is canonical JSON (its ETag is its SHA-256); its detached Ed25519
signature, by the evidence key, is over those exact bytes, which carry the
approval digest and expiry.

During a granted emergency approval of a newer version, the bundle permits
what the gate allows: the approved version's entries until the approval's
expiry, and the emergency version's until the end of its time box (the
permits labelled `emergency:`). The bundle's `emergency` names that version,
its time box and the gate's answer on it; once the box has ended, the bundle
(and its ETag) no longer holds its permits.
"""

import hashlib
import json
from datetime import datetime
from threading import Lock

from cachetools import LRUCache, cached

from agents.models import Agent
from agents.vocabulary import Access, Classification, CredentialMethod, TrustBoundary
from approvals import gate
from approvals.manifest import KEY_BY_KIND, widens
from approvals.manifest.scope import scope_entries
from audit import signing
from runtime.requests import CLAIMS, Evaluation

FORMAT = "countersign.cedar-policy/1"
NAMESPACE = "Countersign"
# The Cedar entity type of each scope kind (Cedar reserves "Action" for actions).
ENTITY_TYPES = {
    "action": "BusinessAction",
    "tool": "Tool",
    "dataset": "Dataset",
    "endpoint": "Endpoint",
    "external_api": "ExternalApi",
}
# The values an enumerated claim can take, to list those an entry allows.
CLAIM_VALUES = {
    "privileged": (False, True),
    "trust_boundary": tuple(TrustBoundary.values),
    "classification": tuple(Classification.values),
    "credential_method": tuple(CredentialMethod.values),
}
CLAIM_TYPES = {
    "privileged": "Boolean",
    "trust_boundary": "String",
    "classification": "String",
    "chain_depth": "Long",
    "credential_ttl_seconds": "Long",
    "credential_method": "String",
}


def cedar_string(text: str) -> str:
    """Return `text` as a Cedar string literal."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{{{ord(char):x}}}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _uid(entity_type: str, ident: str) -> str:
    return f"{NAMESPACE}::{entity_type}::{cedar_string(ident)}"


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return cedar_string(value)


def _condition(name: str, allowed: list | None = None, bound: int | None = None) -> str:
    """Return `context.<name>` limited to the allowed values or bound, when the request names it."""
    if allowed is not None:
        test = f"[{', '.join(_literal(v) for v in allowed)}].contains(context.{name})"
    else:
        test = f"context.{name} <= {bound}"
    return f"(if context has {name} then {test} else true)"


def _permit(slug: str, kind: str, entry: dict, manifest: dict, expires: int, label: str) -> str:
    base = f"scope.{KEY_BY_KIND[kind]}[]"
    actions = [a for a in Access.values if not widens(f"{base}.access", entry["access"], a)]
    conditions = [f"context.now < {expires}"] if expires is not None else []
    for name, (place, _check) in CLAIMS.items():
        if place == "resource":
            path, approved = f"{base}.{name}", entry.get(name)
        elif name == "chain_depth":
            chaining = manifest["chaining"]
            depth = (chaining["max_depth"] if chaining["allowed"] else 0) or 0
            conditions.append(_condition(name, bound=depth))
            continue
        elif name == "credential_ttl_seconds":
            ttl = manifest["credentials"].get("max_ttl_seconds")
            if ttl is not None:
                conditions.append(_condition(name, bound=ttl))
            continue
        else:
            path, approved = "credentials.method", manifest["credentials"].get("method")
        allowed = [v for v in CLAIM_VALUES[name] if not widens(path, approved, v)]
        conditions.append(_condition(name, allowed=allowed))
    action_list = ", ".join(_uid("Action", a) for a in actions)
    label = cedar_string(f"{label}{kind}:{entry['id']}")
    head = (
        f"@id({label})\npermit (\n  principal == {_uid('Agent', slug)},\n"
        f"  action in [{action_list}],\n"
        f"  resource == {_uid(ENTITY_TYPES[kind], entry['id'])}\n)"
    )
    if not conditions:
        return head + ";"
    joined = " &&\n  ".join(conditions)
    return f"{head}\nwhen {{\n  {joined}\n}};"


DENY_ALL = '@id("deny-all")\nforbid (principal, action, resource);'


def cedar_schema() -> dict:
    """Return the Cedar schema (JSON form) every bundle's policies are written against."""
    context = {
        "type": "Record",
        "attributes": {
            "now": {"type": "Long", "required": True},
            **{
                name: {"type": cedar_type, "required": False}
                for name, cedar_type in CLAIM_TYPES.items()
            },
            "end_user": {"type": "String", "required": False},
        },
    }
    resources = list(ENTITY_TYPES.values())
    return {
        NAMESPACE: {
            "entityTypes": {
                "Agent": {
                    "shape": {
                        "type": "Record",
                        "attributes": {"workload_id": {"type": "String", "required": True}},
                    }
                },
                **{name: {} for name in resources},
            },
            "actions": {
                access: {
                    "appliesTo": {
                        "principalTypes": ["Agent"],
                        "resourceTypes": resources,
                        "context": context,
                    }
                }
                for access in Access.values
            },
        }
    }


def policies_for(
    slug: str, manifest: dict, expires: int | None, label: str = ""
) -> tuple[str, list[dict]]:
    """Return the Cedar policies permitting a normalized manifest's scope, and its entities.

    Each policy's `@id` is `label` followed by the entry's kind and identifier.
    """
    policies, entities = [], []
    for kind, entry in scope_entries(manifest):
        policies.append(_permit(slug, kind, entry, manifest, expires, label))
        entities.append(
            {
                "uid": {"type": f"{NAMESPACE}::{ENTITY_TYPES[kind]}", "id": entry["id"]},
                "attrs": {},
                "parents": [],
            }
        )
    return "\n\n".join(policies) + "\n", entities


def _epoch(value: datetime | None) -> int | None:
    """Return the time in seconds since the epoch, cut down to the whole second.

    Expiries are written in whole seconds (`config.times.whole_second`), so the
    permits stop at the instant the gate does; one written with a fraction stops
    them up to a second early, never late.
    """
    return int(value.timestamp()) if value is not None else None


def _emergency(row: dict, codes: tuple[str, ...]) -> dict:
    """Return what the bundle says of the version under an emergency approval."""
    return {
        "package_version": row["emergency_version"],
        "digest": row["emergency_digest"],
        "ends_at": row["emergency_ends_at"].isoformat(),
        "ends_epoch": _epoch(row["emergency_ends_at"]),
        "decision": gate.DENY if codes else gate.ALLOW,
        "reasons": list(codes),
    }


def _standing(agent: Agent) -> tuple[dict | None, tuple[tuple[str, ...], ...]]:
    """Return the agent's decision row and the gate's reason codes on each version it may
    ship, read now: the approved one, and a newer one under an emergency approval (empty
    codes where the gate allows)."""
    row = gate.decision_row(agent.slug)
    return row, gate.version_codes(row, agent.slug)


def policy_bundle(agent: Agent, standing: tuple | None = None) -> dict:
    """Return the agent's policy bundle: Cedar policies, schema, entities, and what they are of.

    `standing` is what `_standing` reads, when already read.
    """
    row, answers = standing or _standing(agent)
    entities = [
        {
            "uid": {"type": f"{NAMESPACE}::Agent", "id": agent.slug},
            "attrs": {"workload_id": agent.workload_id},
            "parents": [],
        }
    ]
    permits = []
    for emergency, codes in zip((False, True), answers, strict=False):
        if codes:
            continue
        expires = row["emergency_ends_at" if emergency else "expires_at"]
        label = f"emergency:v{row['emergency_version']}:" if emergency else ""
        policies, resources = policies_for(
            agent.slug, gate.approved_manifest(row, emergency=emergency), _epoch(expires), label
        )
        permits.append(policies)
        entities += [r for r in resources if r not in entities]
    approved = row is not None and row["package_pk"] is not None
    return {
        "format": FORMAT,
        "agent": agent.slug,
        "workload_id": agent.workload_id,
        "decision": gate.ALLOW if permits else gate.DENY,
        "reasons": [] if permits else list(answers[0]),
        "package_version": row["version"] if approved else None,
        "digest": row["digest"] if approved else None,
        "expires_at": row["expires_at"].isoformat() if approved and row["expires_at"] else None,
        "expires_epoch": _epoch(row["expires_at"]) if approved else None,
        "emergency": _emergency(row, answers[1]) if len(answers) > 1 else None,
        "policies": "\n".join(permits) if permits else DENY_ALL + "\n",
        "schema": cedar_schema(),
        "entities": entities,
        "key_fingerprint": signing.fingerprint(),
    }


def bundle_bytes(bundle: dict) -> bytes:
    """Return the bundle's canonical JSON bytes: what is signed and what the ETag names."""
    return json.dumps(bundle, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest() + '"'


# The decision row's fields a bundle is made of (besides the reason codes).
BUNDLE_FIELDS = (
    "package_pk",
    "version",
    "digest",
    "expires_at",
    "emergency_package_pk",
    "emergency_version",
    "emergency_digest",
    "emergency_ends_at",
)


def _bundle_key(agent: Agent, standing: tuple) -> tuple:
    row, codes = standing
    fields = tuple(row[name] for name in BUNDLE_FIELDS) if row else None
    return (agent.slug, agent.workload_id, codes, fields, signing.fingerprint())


@cached(LRUCache(maxsize=256), key=_bundle_key, lock=Lock())
def _served(agent: Agent, standing: tuple) -> tuple[bytes, str, str]:
    """Return a bundle's bytes, ETag and signature, memoized by everything the bundle is made of.

    The key holds each input of `policy_bundle`, so a memo is never stale: a
    suspension, an expiry, drift or a new approval changes the standing read
    on every request, and with it the key. Gateways poll an unchanged bundle
    far more often than it changes, and a poll then costs the reads only.
    """
    body = bundle_bytes(policy_bundle(agent, standing))
    return body, etag_of(body), signing.sign(body)


def bundles_clear() -> None:
    """Forget the memoized bundles (each test starts with none)."""
    _served.cache_clear()


def bundle_of(agent: Agent) -> tuple[bytes, str, str]:
    """Return the agent's bundle as the bytes served and signed, their ETag and signature."""
    return _served(agent, _standing(agent))


def cedar_request(evaluation: Evaluation, bundle: dict, now: int) -> dict:
    """Return the Cedar request a gateway asks the bundle for an AuthZEN evaluation.

    The subject is the bundle's agent by slug or SPIFFE ID; the claims go to the context.
    """
    subject = evaluation.subject_id
    if subject == bundle["workload_id"]:
        subject = bundle["agent"]
    entity_type = ENTITY_TYPES.get(evaluation.resource_type, "Unknown")
    return {
        "principal": _uid("Agent", subject),
        "action": _uid("Action", evaluation.action),
        "resource": _uid(entity_type, evaluation.resource_id),
        "context": {"now": now, **evaluation.claims},
    }
