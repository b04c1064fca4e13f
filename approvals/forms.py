"""Forms of the pages. They collect input and show errors; the services decide."""

import copy
import json
import re
from datetime import date

from django import forms
from django.contrib.auth import get_user_model

from agents.models import AgentStatus, Deployment
from approvals import manifest as manifests
from approvals.models import FINDING_TEXT_MAX_LENGTH, RiskTier
from config.errors import ApplicationError
from config.times import UTCDateTimeField

BLANK = [("", "Any")]


def _choices(values) -> list[tuple[str, str]]:
    return [(value, value.replace("_", " ")) for value in values]


class AgentFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200)
    status = forms.ChoiceField(choices=BLANK + AgentStatus.choices, required=False)
    team = forms.ChoiceField(choices=BLANK, required=False)
    deployment = forms.ChoiceField(choices=BLANK + Deployment.choices, required=False)
    risk_tier = forms.ChoiceField(
        label="Risk tier", choices=BLANK + RiskTier.choices, required=False
    )

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = BLANK + [(team, team) for team in teams]

    def filters(self) -> dict:
        """Return the valid filter values; an invalid one is ignored, not an error page."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value}


class AgentCreateForm(forms.Form):
    slug = forms.SlugField(
        max_length=63,
        help_text="The identifier CI uses in the manifest's `agent` field; it never changes.",
    )
    name = forms.CharField(max_length=200)
    team = forms.CharField(max_length=100, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    workload_id = forms.CharField(
        label="Workload identity (SPIFFE ID)",
        max_length=2048,
        help_text="spiffe://<trust domain>/<path>, e.g. spiffe://prod.example.com/ns/support/sa/bot",
    )
    log_principal = forms.CharField(
        max_length=200, help_text="How the agent's actions are attributed in logs."
    )
    deployment = forms.ChoiceField(choices=Deployment.choices)


class AgentUpdateForm(forms.Form):
    name = forms.CharField(max_length=200)
    team = forms.CharField(max_length=100, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    owners = forms.CharField(
        help_text="Usernames of the product owners, separated by commas.", max_length=2000
    )

    def clean_owners(self) -> list:
        names = sorted({n.strip() for n in self.cleaned_data["owners"].split(",") if n.strip()})
        users = list(get_user_model().objects.filter(username__in=names, is_active=True))
        missing = set(names) - {user.username for user in users}
        if missing:
            raise forms.ValidationError(f"No such user: {', '.join(sorted(missing))}.")
        if not users:
            raise forms.ValidationError("Name at least one owner.")
        return users


class SuspendForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Recorded in the audit trail and sent with the kill-switch webhook.",
    )


class FindingForm(forms.Form):
    """Acknowledge a drift finding (a note is optional) or resolve it (say how)."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"

    action = forms.ChoiceField(
        choices=[(ACKNOWLEDGE, "Acknowledge: seen, still live"), (RESOLVE, "Resolve: close it")],
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label="Note or resolution",
        required=False,
        max_length=FINDING_TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded in the audit trail; required to resolve.",
    )


class AuditFilterForm(forms.Form):
    agent = forms.CharField(required=False, max_length=64, label="Agent slug")
    actor = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "username"}),
    )
    action = forms.CharField(required=False, max_length=64)
    since = UTCDateTimeField(
        required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = UTCDateTimeField(
        required=False, label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    before = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    after = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=0)


class ManifestUploadForm(forms.Form):
    manifest_file = forms.FileField(
        label="Manifest file",
        help_text="The agent's manifest as YAML or JSON (at most 1 MB).",
    )

    def clean_manifest_file(self):
        upload = self.cleaned_data["manifest_file"]
        if upload.size > 1024 * 1024:
            raise forms.ValidationError("The file is larger than 1 MB.")
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.")
        name = upload.name.lower()
        self.content_type = "application/json" if name.endswith(".json") else "application/yaml"
        return text


# --------------------------------------------------------------------- package editor


def _text(label, help_text="", required=True, area=False, **kwargs):
    widget = forms.Textarea(attrs={"rows": 2}) if area else forms.TextInput
    return forms.CharField(
        label=label, help_text=help_text, required=False, widget=widget, **kwargs
    ), required


def _integer(label, help_text="", required=True, **kwargs):
    return forms.IntegerField(label=label, help_text=help_text, required=False, **kwargs), required


def _choice(label, values, help_text="", required=True):
    choices = ([("", "(not set)")] if not required else []) + _choices(values)
    return forms.ChoiceField(
        label=label, help_text=help_text, choices=choices, required=False
    ), required


def _flag(label, help_text=""):
    return forms.BooleanField(label=label, help_text=help_text, required=False), False


# Form field -> (manifest path, field, required). Every field of the manifest but
# `agent` (fixed to the agent) and `scope` (the scope editor) is here, grouped in
# the order of the sections the page shows.
PACKAGE_SECTIONS: list[tuple[str, str, dict]] = [
    (
        "About",
        "What the agent is and why it needs this scope.",
        {
            "name": _text(
                "Name", "How people know the agent; it replaces the agent's name on approval."
            ),
            "team": _text("Team", "The owning team.", required=False),
            "deployment": _choice(
                "Deployment",
                manifests.DEPLOYMENT_ORDER,
                "Customer-facing and regulated workflows carry more risk than internal copilots.",
            ),
            "description": _text(
                "Description",
                "Optional. What the agent does, for reviewers.",
                required=False,
                area=True,
            ),
            "justification": _text(
                "Business justification", "Why the business needs the agent to act.", area=True
            ),
            "risk_tier": _choice(
                "Declared risk tier",
                manifests.RISK_TIERS,
                "Optional. It may raise the computed tier, never lower it.",
                required=False,
            ),
            "approval_valid_days": _integer(
                "Approval valid for (days)",
                "Optional. A shorter approval lifetime than the risk tier's interval (1-365).",
                required=False,
                min_value=1,
                max_value=365,
            ),
        },
    ),
    (
        "Identity",
        "The agent's workload identity and how its actions show in logs.",
        {
            "identity.workload_id": _text(
                "Workload identity (SPIFFE ID)",
                "spiffe://<trust domain>/<path>; unique to this agent.",
            ),
            "identity.log_principal": _text(
                "Log principal", "The principal that names the agent in audit logs."
            ),
        },
    ),
    (
        "Model",
        "A new model or prompt digest is a scope expansion and needs a full review.",
        {
            "model.provider": _text(
                "Model provider", "Who serves the model, e.g. a vendor or in-house."
            ),
            "model.id": _text("Model identifier", "The exact model version, not an alias."),
            "model.prompt_digest": _text(
                "Prompt digest", "'sha256:' followed by 64 lowercase hex digits."
            ),
        },
    ),
    (
        "Credentials",
        "How short-lived credentials are issued and revoked.",
        {
            "credentials.method": _choice(
                "Issuing method",
                manifests.CREDENTIAL_METHOD_ORDER,
                "SPIFFE SVIDs are preferred; static secrets raise questions from PAM.",
            ),
            "credentials.max_ttl_seconds": _integer(
                "Maximum credential TTL (seconds)",
                "1 to 2,592,000. A longer TTL than approved is an expansion.",
                min_value=1,
                max_value=2592000,
            ),
            "credentials.jit": _flag("Just-in-time issuance", "Credentials are minted per task."),
            "credentials.revocation": _text(
                "Revocation", "How a credential is revoked before it expires.", area=True
            ),
        },
    ),
    (
        "Enforcement",
        "Where policy is enforced at request time.",
        {
            "enforcement.point": _choice(
                "Enforcement point",
                ("gateway", "sidecar", "in_app", "none"),
                "Where each call is checked against policy; none is an expansion.",
            ),
            "enforcement.engine": _choice(
                "Policy engine",
                ("cedar", "opa", "custom", "none"),
                "What evaluates the policy at request time.",
            ),
            "enforcement.mode": _choice(
                "Mode", ("enforce", "monitor"), "Monitor only logs what enforce would block."
            ),
        },
    ),
    (
        "Tool chaining and human oversight",
        "Whether the agent may chain actions across systems.",
        {
            "chaining.allowed": _flag(
                "Chaining allowed", "The agent may feed one tool's output into another call."
            ),
            "chaining.max_depth": _integer(
                "Maximum chain depth",
                "0 to 20; must be 0 when chaining is not allowed.",
                required=False,
                min_value=0,
                max_value=20,
            ),
            "human_in_the_loop.writes": _flag(
                "Human approves writes", "A person confirms every write before it happens."
            ),
            "human_in_the_loop.privileged": _flag(
                "Human approves privileged actions", "A person confirms every privileged action."
            ),
        },
    ),
    (
        "Kill switch and rollback",
        "How the agent is stopped and rolled back.",
        {
            "kill_switch.procedure": _text(
                "Kill-switch procedure", "The steps that stop the agent.", area=True
            ),
            "kill_switch.owner": _text("Kill-switch owner", "Who pulls it, e.g. an on-call rota."),
            "kill_switch.max_minutes_to_revoke": _integer(
                "Minutes to revoke",
                "The longest it takes to stop the agent (1-10080).",
                min_value=1,
                max_value=10080,
            ),
            "kill_switch.webhook": _text(
                "Kill-switch webhook",
                "Optional http(s) URL called when the agent is suspended.",
                required=False,
            ),
            "kill_switch.last_tested": (
                forms.DateField(
                    label="Last tested",
                    help_text="High and critical packages need a test within the last 90 days.",
                    required=False,
                    widget=forms.DateInput(attrs={"type": "date"}),
                ),
                False,
            ),
            "rollback.plan": _text(
                "Rollback plan", "How to return to the last approved version.", area=True
            ),
        },
    ),
    (
        "Logging",
        "Audit trails and retention.",
        {
            "logging.destinations": (
                forms.CharField(
                    label="Log destinations",
                    help_text="One per line, e.g. siem.",
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 2}),
                ),
                True,
            ),
            "logging.retention_days": _integer(
                "Retention (days)",
                "1 to 3650. A shorter retention is an expansion.",
                min_value=1,
                max_value=3650,
            ),
            "logging.attribution": _text(
                "Attribution", "How each call is tied to the agent's identity in logs."
            ),
        },
    ),
    (
        "Emergency access",
        "Break-glass access makes the package critical.",
        {
            "emergency_access.break_glass": _flag(
                "Break-glass access", "Emergency access outside the approved scope exists."
            ),
            "emergency_access.procedure": _text(
                "Break-glass procedure",
                "Required when break-glass access is enabled.",
                required=False,
                area=True,
            ),
        },
    ),
]
FIELD_PATHS = {
    path: path.replace(".", "__") for _, _, fields in PACKAGE_SECTIONS for path in fields
}
PATH_BY_FIELD = {name: path for path, name in FIELD_PATHS.items()}


class PackageForm(forms.Form):
    """Every manifest field but the scope; the schema's own checks run in the service."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for _, _, fields in PACKAGE_SECTIONS:
            for path, (field, required) in fields.items():
                field = copy.deepcopy(field)
                if required:
                    field.widget.attrs["aria-required"] = "true"
                self.fields[FIELD_PATHS[path]] = field

    def sections(self):
        """Yield (title, intro, [(bound field, required)]) per section, for the template."""
        for title, intro, fields in PACKAGE_SECTIONS:
            yield (
                title,
                intro,
                [(self[FIELD_PATHS[path]], required) for path, (_, required) in fields.items()],
            )


def manifest_initial(manifest: dict) -> dict:
    """Return the package form's initial values from a manifest."""
    initial = {}
    for path, name in FIELD_PATHS.items():
        value = manifest
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if path == "logging.destinations":
            value = "\n".join(value or [])
        initial[name] = value
    return initial


def _set(doc: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def manifest_build(*, agent_slug: str, cleaned: dict, scope: dict[str, list[dict]]) -> dict:
    """Build the manifest the service validates from the editor's cleaned values.

    Empty optional values are left out, so a missing required value is reported
    by the manifest validation beside its field.
    """
    doc: dict = {"agent": agent_slug}
    for path, name in FIELD_PATHS.items():
        value = cleaned.get(name)
        if path == "logging.destinations":
            value = [line.strip() for line in (value or "").splitlines() if line.strip()] or None
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, str):
            value = value.strip() or None
        if value is None:
            continue
        _set(doc, path, value)
    for section in (
        "credentials",
        "enforcement",
        "kill_switch",
        "rollback",
        "logging",
        "identity",
        "model",
    ):
        doc.setdefault(section, {})
    doc["scope"] = scope
    return doc


class ScopeEntryForm(forms.Form):
    id = forms.CharField(
        label="Identifier",
        required=False,
        max_length=512,
        help_text="Action name, tool, dataset, URL or API; no spaces.",
    )
    access = forms.ChoiceField(
        choices=_choices(manifests.ACCESS_ORDER),
        required=False,
        help_text="read < write < execute < admin",
    )
    trust_boundary = forms.ChoiceField(
        label="Trust boundary",
        choices=_choices(manifests.BOUNDARY_ORDER),
        required=False,
        help_text="internal < external < third party",
    )
    classification = forms.ChoiceField(
        label="Classification",
        choices=_choices(manifests.CLASSIFICATION_ORDER),
        required=False,
        initial="internal",
        help_text="public < internal < confidential < restricted",
    )
    privileged = forms.BooleanField(required=False, help_text="Makes the package critical.")
    constraints = forms.CharField(
        required=False,
        help_text='Optional JSON object, e.g. {"max_amount_eur": 50}.',
        widget=forms.TextInput,
    )
    justification = forms.CharField(required=False, help_text="Why the agent needs it.")

    def clean_constraints(self) -> dict:
        text = self.cleaned_data["constraints"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"Not valid JSON: {error.msg}.")
        except RecursionError:
            raise forms.ValidationError("Not valid JSON: nested too deeply.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"max": 1}.')
        return value

    def is_blank(self) -> bool:
        return not any(
            str(self.data.get(self.add_prefix(name), "")).strip()
            for name in ("id", "justification", "constraints")
        )

    def entry(self) -> dict:
        data = self.cleaned_data
        entry = {"id": data["id"].strip(), "access": data["access"] or "read"}
        for name in ("trust_boundary", "classification"):
            if data[name]:
                entry[name] = data[name]
        entry["privileged"] = data["privileged"]
        if data["constraints"]:
            entry["constraints"] = data["constraints"]
        if data["justification"].strip():
            entry["justification"] = data["justification"].strip()
        if not entry["id"]:
            del entry["id"]
        return entry


SCOPE_FIELDS = list(ScopeEntryForm.base_fields)
SCOPE_LABELS = {
    "actions": "Actions",
    "tools": "Tools",
    "datasets": "Datasets",
    "endpoints": "Endpoints",
    "external_apis": "External APIs",
}


def entry_initial(entry: dict) -> dict:
    initial = {name: entry.get(name) for name in SCOPE_FIELDS}
    initial["constraints"] = json.dumps(entry["constraints"]) if entry.get("constraints") else ""
    initial["justification"] = entry.get("justification") or ""
    return initial


class ScopeEditor:
    """The scope entries of every kind, as rows of `ScopeEntryForm`s.

    Rows are read from the posted data by index, blank rows dropped, and
    renumbered so row i of a kind is entry i of the manifest: a validation path
    like ``scope.tools[2].access`` then lands on its row.
    """

    def __init__(self, rows: dict[str, list[ScopeEntryForm]]):
        self.rows = rows

    @classmethod
    def from_manifest(cls, manifest: dict | None) -> "ScopeEditor":
        scope = (manifest or {}).get("scope") or {}
        return cls(
            {
                kind: [
                    ScopeEntryForm(prefix=f"{kind}-{index}", initial=entry_initial(entry))
                    for index, entry in enumerate(scope.get(kind) or [])
                ]
                for kind in manifests.SCOPE_KINDS
            }
        )

    @classmethod
    def from_post(cls, data, *, add: str = "", remove: str = "") -> "ScopeEditor":
        rows = {}
        for kind in manifests.SCOPE_KINDS:
            pattern = re.compile(rf"^{kind}-(\d+)-id$")
            indices = sorted({int(m.group(1)) for key in data if (m := pattern.match(key))})
            values = []
            for index in indices:
                if remove == f"{kind}-{index}":
                    continue
                row = {name: data.get(f"{kind}-{index}-{name}", "") for name in SCOPE_FIELDS}
                if not row["privileged"]:
                    row.pop("privileged")
                if any(
                    str(row.get(name, "")).strip()
                    for name in ("id", "justification", "constraints")
                ):
                    values.append(row)
            forms_ = [
                ScopeEntryForm(
                    {f"{kind}-{i}-{name}": value for name, value in row.items()},
                    prefix=f"{kind}-{i}",
                )
                for i, row in enumerate(values)
            ]
            if add == kind:
                forms_.append(ScopeEntryForm(prefix=f"{kind}-{len(forms_)}"))
            rows[kind] = forms_
        return cls(rows)

    def is_valid(self) -> bool:
        return all(
            form.is_valid() for forms_ in self.rows.values() for form in forms_ if form.is_bound
        )

    def has_errors(self) -> bool:
        return any(
            form.is_bound and form.errors for forms_ in self.rows.values() for form in forms_
        )

    def scope(self) -> dict[str, list[dict]]:
        return {
            kind: [form.entry() for form in forms_ if form.is_bound and not form.is_blank()]
            for kind, forms_ in self.rows.items()
        }

    def kinds(self):
        """Yield (kind, label, rows) for the template."""
        for kind in manifests.SCOPE_KINDS:
            yield kind, SCOPE_LABELS[kind], self.rows[kind]

    def add_error(self, kind: str, index: int, field: str | None, message: str) -> bool:
        forms_ = self.rows.get(kind, [])
        if index >= len(forms_):
            return False
        form = forms_[index]
        if not form.is_bound:
            return False
        if not hasattr(form, "cleaned_data"):
            form.is_valid()
        form.add_error(field if field in form.fields else None, message)
        return True


_SCOPE_PATH = re.compile(r"^scope\.(\w+)\[(\d+)\](?:\.(\w+))?")


def errors_apply(error: ApplicationError, form: forms.Form, scope: ScopeEditor | None = None):
    """Put a service's field errors beside the fields they name; return the rest.

    Paths are those of InvalidInput.fields, e.g. ``manifest.scope.tools[0].access``
    or ``manifest.kill_switch.last_tested``; what matches no field is returned
    as (path, message) pairs to show above the form.
    """
    rest = []
    for path, messages in (error.fields or {}).items():
        for message in messages if isinstance(messages, list) else [messages]:
            if not _error_place(path, str(message), form, scope):
                rest.append((path.removeprefix("manifest."), str(message)))
    if not error.fields:
        rest.append(("", error.message))
    return rest


def _error_place(path: str, message: str, form, scope) -> bool:
    bare = path.removeprefix("manifest.")
    match = _SCOPE_PATH.match(bare)
    if match and scope is not None:
        kind, index, field = match.group(1), int(match.group(2)), match.group(3)
        return scope.add_error(kind, index, field, message)
    if isinstance(form, PackageForm):
        name = None
        candidate = re.sub(r"\[\d+\]$", "", bare)
        while candidate and name is None:
            name = FIELD_PATHS.get(candidate)
            candidate = candidate.rpartition(".")[0]
        if name is None:
            return False
        form.add_error(name, f"{bare}: {message}" if PATH_BY_FIELD[name] != bare else message)
        return True
    name = path.replace("answers.", "item_", 1) if path.startswith("answers.") else path
    if name in form.fields:
        form.add_error(name, message)
        return True
    return False


class DecisionForm(forms.Form):
    """A dimension's checklist, a comment and the verdict chosen by the button pressed."""

    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required to request changes or reject.",
        max_length=5000,
    )
    verdict = forms.ChoiceField(
        choices=[
            ("approve", "Approve"),
            ("request_changes", "Request changes"),
            ("reject", "Reject"),
        ],
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, signoff, **kwargs):
        super().__init__(*args, **kwargs)
        self.items = list(signoff.checklist.items.all())
        for item in self.items:
            self.fields[f"item_{item.code}"] = forms.BooleanField(
                label=item.text, help_text=item.help_text, required=False
            )
        self.order_fields([f"item_{item.code}" for item in self.items] + ["comment"])

    def checklist(self):
        """Yield (item, bound field) for the template."""
        for item in self.items:
            yield item, self[f"item_{item.code}"]

    def answers(self) -> dict[str, bool]:
        return {item.code: bool(self.cleaned_data.get(f"item_{item.code}")) for item in self.items}
