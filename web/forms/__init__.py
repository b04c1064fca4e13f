"""Forms of the pages. They collect input and show errors; the services decide."""

from web.forms.agents import (
    AgentCreateForm,
    AgentUpdateForm,
    FindingForm,
    StopForm,
    agent_filters,
)
from web.forms.audit import AuditFilterForm
from web.forms.errors import error_summary, errors_apply, errors_show, filters_ignored
from web.forms.packages import ManifestUploadForm, PackageForm, manifest_build, manifest_initial
from web.forms.review import DecisionForm
from web.forms.scope import SCOPE_LABELS, ScopeEditor, entry_initial
from web.forms.tokens import TokenCreateForm

__all__ = [
    "SCOPE_LABELS",
    "AgentCreateForm",
    "agent_filters",
    "AgentUpdateForm",
    "AuditFilterForm",
    "DecisionForm",
    "FindingForm",
    "ManifestUploadForm",
    "PackageForm",
    "ScopeEditor",
    "StopForm",
    "TokenCreateForm",
    "entry_initial",
    "error_summary",
    "errors_apply",
    "errors_show",
    "filters_ignored",
    "manifest_build",
    "manifest_initial",
]
