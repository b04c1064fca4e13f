"""Forms of the package editor: the manifest fields, the scope table, a manifest file."""

import copy
from datetime import date

from django import forms
from django.conf import settings
from django.utils.functional import lazy
from django.utils.text import capfirst

from agents.vocabulary import (
    CredentialMethod,
    Deployment,
    EnforcementMode,
    EnforcementPoint,
    PolicyEngine,
    RiskTier,
)
from approvals.manifest import field_bounds, field_title

MANIFEST_MAX_BYTES = 1024 * 1024


class ManifestUploadForm(forms.Form):
    """A manifest as a file or as pasted text: one of them, read as the service reads CI's."""

    manifest_file = forms.FileField(
        label="Manifest file",
        required=False,
        help_text="The agent's manifest as YAML or JSON (at most 1 MB).",
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,.json"}),
    )
    manifest_text = forms.CharField(
        label="Manifest text",
        required=False,
        strip=False,
        help_text="Paste the YAML or JSON instead of choosing a file.",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "mono"}),
    )
    # The draft the manifest replaces, sent by a draft's editor; without it, a new draft.
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    content_type = "application/yaml"

    def clean_manifest_file(self):
        upload = self.cleaned_data["manifest_file"]
        if upload is None:
            return None
        if upload.size > MANIFEST_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 1 MB.")
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.")
        if upload.name.lower().endswith(".json"):
            self.content_type = "application/json"
        return text

    def clean_manifest_text(self):
        # Browsers send a text area's line breaks as CRLF; the file they were copied from
        # had LF, and the same text should have the same source digest.
        text = self.cleaned_data["manifest_text"].replace("\r\n", "\n")
        if len(text.encode()) > MANIFEST_MAX_BYTES:
            raise forms.ValidationError("The text is longer than 1 MB.")
        return text if text.strip() else ""

    def clean(self):
        data = super().clean()
        has_file = data.get("manifest_file") is not None or "manifest_file" in self.errors
        has_text = bool(data.get("manifest_text")) or "manifest_text" in self.errors
        if not has_file and not has_text:
            self.add_error("manifest_file", "Choose a manifest file, or paste the manifest's text.")
        elif has_file and has_text:
            self.add_error(
                "manifest_text",
                "Give the manifest once: a file or pasted text, not both.",
            )
        return data

    def manifest(self) -> str:
        """Return the manifest text given (call after is_valid())."""
        return self.cleaned_data["manifest_file"] or self.cleaned_data["manifest_text"]


# --------------------------------------------------------------------- package editor


# The label of each field is its title in the manifest schema, as a label: the pages name
# a field one way, and the review reasons and the diffs say the same words. An amount's
# unit follows it, since the input takes a bare number.
UNITS = {
    "approval_valid_days": "days",
    "credentials.max_ttl_seconds": "seconds",
    "kill_switch.max_minutes_to_revoke": "minutes",
    "logging.retention_days": "days",
}


def editor_label(path: str) -> str:
    """Return the editor's label of a manifest field: its title, capitalised, then its unit
    ("Maximum credential TTL (seconds)")."""
    label = capfirst(field_title(path))
    return f"{label} ({UNITS[path]})" if path in UNITS else label


def _text(help_text="", required=True, area=False, **kwargs):
    widget = forms.Textarea(attrs={"rows": 2}) if area else forms.TextInput
    return forms.CharField(help_text=help_text, required=False, widget=widget, **kwargs), required


def _integer(help_text="", required=True):
    """A manifest integer: PackageForm bounds it as the schema does, and `{minimum}` and
    `{maximum}` in its help text name those bounds."""
    return forms.IntegerField(help_text=help_text, required=False), required


def _schema_bounded(field: forms.IntegerField, path: str) -> forms.IntegerField:
    bounds = field_bounds(path)
    return forms.IntegerField(
        label=field.label,
        help_text=field.help_text.format(**bounds),
        required=False,
        min_value=bounds.get("minimum"),
        max_value=bounds.get("maximum"),
    )


def _kill_switch_test_help() -> str:
    days = settings.COUNTERSIGN["KILL_SWITCH_TEST_MAX_AGE_DAYS"]
    return f"Not in the future; high and critical packages need a test within the last {days} days."


def _choice(choices, help_text="", required=True):
    choices = ([("", "(not set)")] if not required else []) + list(choices)
    return forms.ChoiceField(help_text=help_text, choices=choices, required=False), required


def _flag(help_text=""):
    return forms.BooleanField(help_text=help_text, required=False), False


# Form field -> (manifest path, field, required). Every field of the manifest but
# `agent` (fixed to the agent) and `scope` (the scope editor) is here, grouped in
# the order of the sections the page shows.
PACKAGE_SECTIONS: list[tuple[str, str, dict]] = [
    (
        "About",
        "What the agent is and why it needs this scope.",
        {
            "name": _text("How people know the agent; it replaces the agent's name on approval."),
            "team": _text(
                "The agent's team (its slug), or empty: staff administer teams.",
                required=False,
            ),
            "deployment": _choice(
                Deployment.choices,
                "Customer-facing and regulated workflows carry more risk than internal copilots.",
            ),
            "description": _text(
                "Optional. What the agent does, for reviewers.",
                required=False,
                area=True,
            ),
            "justification": _text("Why the business needs the agent to act.", area=True),
            "risk_tier": _choice(
                RiskTier.choices,
                "Optional. It may raise the computed tier, never lower it.",
                required=False,
            ),
            "approval_valid_days": _integer(
                "Optional. A shorter approval lifetime than the risk tier's interval "
                "({minimum}-{maximum}).",
                required=False,
            ),
        },
    ),
    (
        "Identity",
        "The agent's workload identity and how its actions show in logs.",
        {
            "identity.workload_id": _text(
                "A SPIFFE ID, spiffe://<trust domain>/<path>; unique to this agent."
            ),
            "identity.log_principal": _text("The principal that names the agent in audit logs."),
        },
    ),
    (
        "Model",
        "A new model or prompt digest is a scope expansion and needs a full review.",
        {
            "model.provider": _text("Who serves the model, e.g. a vendor or in-house."),
            "model.id": _text("The exact model version, not an alias."),
            "model.prompt_digest": _text("'sha256:' followed by 64 lowercase hex digits."),
        },
    ),
    (
        "Credentials",
        "How short-lived credentials are issued and revoked.",
        {
            "credentials.method": _choice(
                CredentialMethod.choices,
                "SPIFFE SVIDs are preferred; static secrets raise questions from PAM.",
            ),
            "credentials.max_ttl_seconds": _integer(
                "{minimum:,} to {maximum:,}. A longer TTL than approved is an expansion.",
            ),
            "credentials.jit": _flag("Credentials are minted per task."),
            "credentials.revocation": _text(
                "How a credential is revoked before it expires.", area=True
            ),
        },
    ),
    (
        "Enforcement",
        "Where policy is enforced at request time.",
        {
            "enforcement.point": _choice(
                EnforcementPoint.choices,
                "Where each call is checked against policy; none is an expansion.",
            ),
            "enforcement.engine": _choice(
                PolicyEngine.choices,
                "What evaluates the policy at request time.",
            ),
            "enforcement.mode": _choice(
                EnforcementMode.choices,
                "Monitor only logs what enforce would block.",
            ),
        },
    ),
    (
        "Tool chaining and human oversight",
        "Whether the agent may chain actions across systems.",
        {
            "chaining.allowed": _flag("The agent may feed one tool's output into another call."),
            "chaining.max_depth": _integer(
                "{minimum} to {maximum}; must be 0 when chaining is not allowed.",
                required=False,
            ),
            "human_in_the_loop.writes": _flag("A person confirms every write before it happens."),
            "human_in_the_loop.privileged": _flag("A person confirms every privileged action."),
        },
    ),
    (
        "Kill switch and rollback",
        "How the agent is stopped and rolled back.",
        {
            "kill_switch.procedure": _text("The steps that stop the agent.", area=True),
            "kill_switch.owner": _text("Who pulls it, e.g. an on-call rota."),
            "kill_switch.max_minutes_to_revoke": _integer(
                "The longest it takes to stop the agent ({minimum}-{maximum}).",
            ),
            "kill_switch.webhook": _text(
                "Optional http(s) URL called when the agent is suspended.",
                required=False,
            ),
            "kill_switch.last_tested": (
                forms.DateField(
                    # Read when shown, so that it names the setting in force.
                    help_text=lazy(_kill_switch_test_help, str)(),
                    required=False,
                    widget=forms.DateInput(attrs={"type": "date"}),
                ),
                False,
            ),
            "rollback.plan": _text("How to return to the last approved version.", area=True),
        },
    ),
    (
        "Logging",
        "Audit trails and retention.",
        {
            "logging.destinations": (
                forms.CharField(
                    help_text="One per line, e.g. siem.",
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 2}),
                ),
                True,
            ),
            "logging.retention_days": _integer(
                "{minimum} to {maximum}. A shorter retention is an expansion.",
            ),
            "logging.attribution": _text("How each call is tied to the agent's identity in logs."),
        },
    ),
    (
        "Emergency access",
        "Break-glass access makes the package critical.",
        {
            "emergency_access.break_glass": _flag(
                "Emergency access outside the approved scope exists."
            ),
            "emergency_access.procedure": _text(
                "Required when break-glass access is enabled.",
                required=False,
                area=True,
            ),
        },
    ),
]


def _label_fields() -> None:
    """Give every field of the editor its label from the schema (``editor_label``)."""
    for _, _, fields in PACKAGE_SECTIONS:
        for path, (field, _) in fields.items():
            field.label = editor_label(path)


_label_fields()
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
                if isinstance(field, forms.IntegerField):
                    field = _schema_bounded(field, path)
                else:
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
