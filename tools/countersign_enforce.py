"""Countersign enforcement point: ask before an agent's tool call runs.

Drop this file into an agent runtime (Python 3.10+, standard library only)
and ask before every tool call:

    from countersign_enforce import Denied, Enforcer

    pep = Enforcer("https://countersign.example", TOKEN, agent="support-assistant")

    def dispatch(call):
        pep.check(call.access, "tool", call.name, context={"chain_depth": call.depth})
        return TOOLS[call.name](**call.arguments)

`check` raises `Denied` (its `reason` is Countersign's reason code) unless
Countersign allows the call; `decide` returns the `Decision` instead; the
`guard` decorator checks before a function runs.

Two ways to decide:

- by default it asks the decision point: `POST /access/v1/evaluation`
  (OpenID AuthZEN) with the agent's token. An allow is kept for `allow_ttl`
  seconds (30 by default) or until a call is denied for anything but the entry
  it asks: a deny whose every reason code is an entry's (`scope_mismatch`: the
  entry is not approved, or not at this access, or a claim goes beyond it)
  leaves the other allows kept, and any other deny (a kill switch, an expiry, a
  code this file does not know, none) or a refused token (401, 403) forgets them
  all. An answer that says nothing of the agent (the server unreachable or slow,
  throttling, a 5xx, an answer of another shape) denies its call alone: the
  allows kept still run out at `allow_ttl`, and a throttled agent does not ask
  more for being throttled. A deny is never kept, so a lifted deny is seen at
  once and a kill switch within `allow_ttl`, at once after the first call it
  denies.
- with `policy_url` (the agent's `GET /api/v1/agents/{slug}/policy`) and the
  `cedarpy` package installed, it keeps the agent's exported Cedar bundle and
  decides locally, polling the bundle every `poll_seconds` with If-None-Match
  (a 304 costs nothing). With `public_key` (the PEM of the evidence key,
  `GET /api/v1/audit/public-key`) a bundle is used only when its detached
  Ed25519 signature verifies, which needs the `cryptography` package. It may
  hold several PEM blocks (or be a list of them): before the signing key is
  rotated, give it the new key beside the old one, so bundles signed by either
  verify; a bundle signed by a key it does not hold is denied with
  `policy_key_untrusted`, one whose signature does not hold with
  `policy_signature_invalid`.
  Without cedarpy it asks the decision point as above.

Every error denies: the server unreachable or slow (`timeout` bounds each request in
all, from connecting to the answer's last byte, however slowly it comes), an answer
that is not a 200 or not the expected JSON, a bundle whose signature does
not verify or that names another agent. Nothing is kept from a failed answer.
"""

import base64
import hashlib
import http.client
import io
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import wraps

try:
    import cedarpy
except ImportError:  # local evaluation needs it; without it the decision point is asked
    cedarpy = None

# The bundle format's names, as runtime/cedar.py writes them (a test holds the two equal):
# its format, its Cedar namespace and the entity type of each scope kind.
FORMAT = "countersign.cedar-policy/1"
NAMESPACE = "Countersign"
ENTITY_TYPES = {
    "action": "BusinessAction",
    "tool": "Tool",
    "dataset": "Dataset",
    "endpoint": "Endpoint",
    "external_api": "ExternalApi",
}
SIGNATURE_HEADER = "X-Countersign-Signature"
KEY_HEADER = "X-Countersign-Key-Fingerprint"
MAX_ANSWER_BYTES = 64 * 1024
MAX_BUNDLE_BYTES = 8 * 1024 * 1024
MAX_CACHED = 4096
# The reason codes of a deny about the entry asked alone, the agent standing: a deny carrying
# only these leaves the allows of other entries kept (tests hold this to the decision point's
# runtime.decision.ENTRY_REASONS).
ENTRY_REASONS = frozenset({"scope_mismatch"})
# The statuses of a token refused (unknown, revoked, expired, its user inactive, not bound to
# this agent, without the decision scope): the runtime's allows end with its credential.
TOKEN_REFUSED = frozenset({401, 403})
# The claims a call may make, where the decision point reads each (a claim made elsewhere
# is ignored) and what it must be: True/False, a word of 1 to 64 characters, or an integer
# of at least the number given. Local decisions read them alike, so a claim the decision
# point refuses is denied here too (tests hold this to runtime.requests.CLAIMS).
CLAIMS = {
    "privileged": ("resource", bool),
    "trust_boundary": ("resource", str),
    "classification": ("resource", str),
    "chain_depth": ("context", 0),
    "credential_ttl_seconds": ("context", 1),
    "credential_method": ("context", str),
}


@dataclass(frozen=True)
class Decision:
    """One answer: whether the call may run, and Countersign's reason code when it may not."""

    allowed: bool
    reason: str = ""


class Denied(PermissionError):
    """A tool call Countersign did not allow; `reason` is its reason code."""

    def __init__(self, reason: str, call: str = ""):
        super().__init__(f"Countersign denied {call}: {reason}" if call else reason)
        self.reason = reason


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: the token goes to the configured server only, and a 3xx denies."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class _DeadlineHTTPConnection(http.client.HTTPConnection):
    """A connection whose `timeout` bounds the whole exchange, not each socket operation.

    A socket's timeout bounds one read: a server sending its answer a byte at a time
    would hold the call as long as it liked. Here the timeout is a deadline, and
    connecting, each send and each read of the answer get only the time left before it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadline = time.monotonic() + self.timeout

    def left(self) -> float:
        """Return the seconds left before the deadline; raise TimeoutError when none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left

    def connect(self):
        self.timeout = self.left()
        super().connect()
        # An HTTPS connection's TLS handshake follows, with what is left.
        self.sock.settimeout(self.left())

    def send(self, data):
        if self.sock is not None:
            self.sock.settimeout(self.left())
        super().send(data)

    def response_class(self, sock, *args, **kwargs):
        response = http.client.HTTPResponse(sock, *args, **kwargs)
        # The socket's own reader stays beneath: it keeps the socket open until the
        # response is closed.
        response.fp = io.BufferedReader(_DeadlineReader(response.fp.detach(), sock, self.left))
        return response


class _DeadlineHTTPSConnection(http.client.HTTPSConnection, _DeadlineHTTPConnection):
    """The HTTPS connection, with the deadline of _DeadlineHTTPConnection."""


class _DeadlineReader(io.RawIOBase):
    """A socket's reader whose every read gets only the time `left()` returns."""

    def __init__(self, raw, sock, left):
        super().__init__()
        self.raw, self.sock, self.left = raw, sock, left

    def readable(self) -> bool:
        return True

    def readinto(self, buffer):
        self.sock.settimeout(self.left())
        return self.raw.readinto(buffer)

    def close(self) -> None:
        self.raw.close()
        super().close()


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_DeadlineHTTPConnection, req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_DeadlineHTTPSConnection, req)


_OPENER = urllib.request.build_opener(_NoRedirects, _DeadlineHTTPHandler, _DeadlineHTTPSHandler)


def _deny(reason: str) -> Decision:
    return Decision(False, reason)


class Enforcer:
    """Decide an agent's tool calls with Countersign; every failure denies.

    `clock` (monotonic seconds) times the allow cache and the bundle polls;
    `wall_clock` (seconds since the epoch) is the `now` a Cedar bundle's
    permits are held to. Both are injectable for tests.
    """

    def __init__(
        self,
        url: str,
        token: str,
        agent: str,
        *,
        timeout: float = 2.0,
        allow_ttl: float = 30.0,
        policy_url: str | None = None,
        public_key: bytes | str | list | tuple | None = None,
        poll_seconds: float = 30.0,
        clock=time.monotonic,
        wall_clock=time.time,
    ):
        self.url = _http_url(url).rstrip("/")
        self.token = token
        self.agent = agent
        self.timeout = timeout
        self.allow_ttl = allow_ttl
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.wall_clock = wall_clock
        self.policy_url = _http_url(policy_url) if policy_url and cedarpy is not None else None
        # The trusted keys by fingerprint; none: bundles are used unsigned, which only None
        # asks for (an empty value, an unset variable read as "", refuses to start).
        self._keys = _public_keys(public_key) if public_key is not None else {}
        self._lock = threading.Lock()
        self._allows: dict[str, float] = {}  # when each allow kept was asked
        self._forgets = 0  # the answers that forgot every allow kept
        self._bundle: dict | None = None
        self._etag: str | None = None
        self._polled: float | None = None

    @property
    def local(self) -> bool:
        """Whether calls are decided locally from the Cedar bundle."""
        return self.policy_url is not None

    def decide(
        self, action: str, kind: str, ident: str, *, properties=None, context=None
    ) -> Decision:
        """Return whether the agent may do `action` on the scope entry (`kind`, `ident`) now.

        `properties` are claims about the entry (`privileged`, `trust_boundary`,
        `classification`), `context` about the call (`chain_depth`,
        `credential_ttl_seconds`, `credential_method`, `end_user`).
        """
        resource = {"type": kind, "id": ident}
        if properties:
            resource["properties"] = dict(properties)
        request = {
            "subject": {"type": "agent", "id": self.agent},
            "action": {"name": action},
            "resource": resource,
            "context": dict(context or {}),
        }
        try:
            if self.local:
                return self._decide_locally(request)
            return self._decide_remotely(request)
        except PolicyError as error:
            return _deny(error.code)
        except Exception:
            # Whatever else went wrong (a claim Cedar cannot read, a bug), the call is denied.
            return _deny("enforcement_error")

    def check(self, action: str, kind: str, ident: str, *, properties=None, context=None) -> None:
        """Raise Denied unless the agent may do `action` on the scope entry now."""
        decision = self.decide(action, kind, ident, properties=properties, context=context)
        if not decision.allowed:
            raise Denied(decision.reason, f"{action} on {kind} {ident!r}")

    def guard(self, action: str, kind: str, ident: str, **claims):
        """Decorate a function so that every call is checked first (`claims` as for `check`)."""

        def decorate(function):
            @wraps(function)
            def checked(*args, **kwargs):
                self.check(action, kind, ident, **claims)
                return function(*args, **kwargs)

            return checked

        return decorate

    @staticmethod
    def _fresh(since: float | None, now: float, seconds: float) -> bool:
        """Return whether `now` is less than `seconds` after `since`, and not before it.

        A clock set back (a wall clock given as `clock`) stretches nothing kept.
        """
        return since is not None and since <= now < since + seconds

    # The decision point.

    def _decide_remotely(self, request: dict) -> Decision:
        key = json.dumps(request, sort_keys=True)
        now = self.clock()
        with self._lock:
            if self._fresh(self._allows.get(key), now, self.allow_ttl):
                return Decision(True)
            forgets = self._forgets
        decision = self._ask(request)
        if decision.allowed and self.allow_ttl > 0:
            with self._lock:
                if forgets != self._forgets:
                    # Answered after another call's deny or refused token, which may have
                    # stopped the agent.
                    return decision
                if len(self._allows) >= MAX_CACHED:
                    self._allows = {
                        k: t for k, t in self._allows.items() if self._fresh(t, now, self.allow_ttl)
                    }
                    if len(self._allows) >= MAX_CACHED:
                        self._allows.clear()
                self._allows[key] = now
        return decision

    def _ask(self, request: dict) -> Decision:
        decision, forget = self._answer(request)
        if forget:
            # A deny may be the whole agent's (its kill switch, its expiry), and a refused
            # token its runtime's: no allow kept outlives either.
            with self._lock:
                self._forgets += 1
                self._allows.clear()
        return decision

    def _answer(self, request: dict) -> tuple[Decision, bool]:
        """Return the decision point's answer, and whether it forgets every allow kept."""
        # The scheme was checked to be http or https at construction.
        http = urllib.request.Request(  # noqa: S310
            f"{self.url}/access/v1/evaluation",
            data=json.dumps(request).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with _OPENER.open(http, timeout=self.timeout) as response:
                status = response.status
                body = response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as error:
            return _deny(f"http_{error.code}"), error.code in TOKEN_REFUSED
        except (OSError, ValueError):
            return _deny("unreachable"), False
        if status != 200:
            return _deny(f"http_{status}"), False
        if len(body) > MAX_ANSWER_BYTES:
            return _deny("bad_response"), False
        try:
            answer = json.loads(body, object_pairs_hook=_unique_names)
        except ValueError:
            return _deny("bad_response"), False
        if not isinstance(answer, dict) or not isinstance(answer.get("decision"), bool):
            return _deny("bad_response"), False
        if answer["decision"] is True:
            return Decision(True), False
        context = answer.get("context")
        context = context if isinstance(context, dict) else {}
        reason = context.get("reason")
        reason = reason if isinstance(reason, str) and reason else "denied"
        return _deny(reason), not _entry_only(reason, context.get("reasons", [reason]))

    # The Cedar bundle.

    def _decide_locally(self, request: dict) -> Decision:
        bundle = self._current_bundle()
        if bundle is None:
            return _deny("policy_unavailable")
        if self.agent not in (bundle.get("agent"), bundle.get("workload_id")):
            return _deny("policy_of_another_agent")
        entity_type = ENTITY_TYPES.get(request["resource"]["type"])
        if entity_type is None:
            return _deny("scope_mismatch")
        action = request["action"]["name"]
        context = self._cedar_context(bundle, action, request)
        if context is None:
            return _deny("invalid_request")
        cedar_request = {
            "principal": _uid("Agent", bundle["agent"]),
            "action": _uid("Action", action),
            "resource": _uid(entity_type, request["resource"]["id"]),
            "context": context,
        }
        result = cedarpy.is_authorized(
            cedar_request, bundle["policies"], bundle["entities"], schema=bundle["schema"]
        )
        if result.allowed:
            return Decision(True)
        reasons = bundle.get("reasons") or []
        return _deny(
            reasons[0] if bundle.get("decision") == "deny" and reasons else "not_permitted"
        )

    def _cedar_context(self, bundle: dict, action: str, request: dict) -> dict | None:
        """Return the Cedar context: `now`, and the claims the bundle's schema knows."""
        try:
            actions = bundle["schema"][NAMESPACE]["actions"]
        except (KeyError, TypeError):
            return None
        if action not in actions:
            return None
        known = actions[action]["appliesTo"]["context"]["attributes"]
        properties = request["resource"].get("properties", {})
        places = {"resource": properties, "context": request["context"]}
        context = {}
        for name, (place, kind) in CLAIMS.items():
            if name in places[place]:
                value = _claim(name, places[place][name], kind)
                if name in known:
                    context[name] = value
        context["now"] = int(self.wall_clock())
        return context

    def _current_bundle(self) -> dict | None:
        """Return the bundle to decide with, polling for a new one when it is due."""
        now = self.clock()
        with self._lock:
            if self._fresh(self._polled, now, self.poll_seconds):
                return self._bundle
            try:
                self._poll()
                self._polled = now
            except Exception:
                # Nothing is kept from a failed poll, and the next call polls again.
                self._bundle, self._etag, self._polled = None, None, None
                raise
            return self._bundle

    def _poll(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if self._etag and self._bundle is not None:
            headers["If-None-Match"] = self._etag
        http = urllib.request.Request(self.policy_url, headers=headers)  # noqa: S310 - as above
        try:
            with _OPENER.open(http, timeout=self.timeout) as response:
                status = response.status
                body = response.read(MAX_BUNDLE_BYTES + 1)
                signature = response.headers.get(SIGNATURE_HEADER, "")
                signer = response.headers.get(KEY_HEADER, "")
                etag = response.headers.get("ETag")
        except urllib.error.HTTPError as error:
            if error.code == 304 and self._bundle is not None:
                return
            raise PolicyError("policy_unavailable", f"answered {error.code}") from None
        except (OSError, ValueError) as error:
            raise PolicyError("policy_unavailable", str(error)) from None
        if status != 200 or len(body) > MAX_BUNDLE_BYTES:
            raise PolicyError("policy_unavailable", f"answered {status}")
        if self._keys and not any(_signed(key, body, signature) for key in self._keys.values()):
            if signer and signer.lower() not in self._keys:
                # After a rotation the server signs with a key this point was not given.
                raise PolicyError(
                    "policy_key_untrusted",
                    f"signed by key {signer}, which is not one of this enforcement point's",
                )
            raise PolicyError("policy_signature_invalid", "the signature does not verify")
        try:
            bundle = json.loads(body, object_pairs_hook=_unique_names)
        except ValueError:
            raise PolicyError("policy_invalid", "the bundle is not JSON") from None
        if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
            raise PolicyError("policy_invalid", f"not a {FORMAT} bundle")
        for name in ("agent", "policies", "entities", "schema"):
            if name not in bundle:
                raise PolicyError("policy_invalid", f"the bundle has no {name}")
        self._bundle, self._etag = bundle, etag


class PolicyError(Exception):
    """A policy bundle that could not be fetched or trusted; `code` is the deny's reason."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def _http_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url


def _entry_only(reason: str, reasons) -> bool:
    """Tell whether a deny's reason and its every listed reason are an entry's codes."""
    return isinstance(reasons, list) and all(
        isinstance(code, str) and code in ENTRY_REASONS for code in [reason, *reasons]
    )


def _unique_names(pairs: list) -> dict:
    """Return a JSON object's members, refusing one named twice.

    Parsers differ on which of the two counts (Python's takes the last): such an
    answer says nothing for certain, so it denies.
    """
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("a member is named twice")
    return members


def _claim(name: str, value, kind):
    """Return a claim's value as the decision point reads it, or raise PolicyError."""
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is str:
        ok = isinstance(value, str) and 0 < len(value) <= 64
    else:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool) and kind <= value < 2**53
    if not ok:
        raise PolicyError("invalid_request", f"the decision point refuses this {name}")
    return value


def _uid(entity_type: str, ident: str) -> dict:
    # As an entity reference, not Cedar text: an id needs no escaping (an apostrophe would).
    return {"type": f"{NAMESPACE}::{entity_type}", "id": ident}


def _public_keys(pems) -> dict:
    """Return the Ed25519 keys of PEM text (one block or several, or a list) by fingerprint.

    Refuse to start without the library to verify with, or with anything but Ed25519 keys.
    """
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError as error:
        raise RuntimeError("verifying policy signatures needs the cryptography package") from error
    texts = [pems] if isinstance(pems, (bytes, str)) else list(pems)
    blocks = [
        block.group(0)
        for text in texts
        for block in _PEM_BLOCK.finditer(text.decode() if isinstance(text, bytes) else text)
    ]
    if not blocks:
        raise ValueError("no PEM public key given")
    keys = {}
    for block in blocks:
        try:
            key = serialization.load_pem_public_key(block.encode())
        except UnsupportedAlgorithm as error:
            raise ValueError(f"the public key is of no known type: {error}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the public key is not an Ed25519 key")
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keys[hashlib.sha256(raw).hexdigest()] = key
    return keys


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.*?-----END \1-----", re.DOTALL)


def _signed(key, body: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(base64.b64decode(signature.strip(), validate=True), body)
    except (InvalidSignature, ValueError):
        return False
    return True
