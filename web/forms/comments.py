"""The package page's comment forms: a new comment (on the package or an entry), a reply."""

import re

from django import forms

from approvals.models import COMMENT_MAX_LENGTH
from web import vocabulary

# Which form of the page was sent: a new comment, a reply to a comment's thread, or an
# answer to a decision. The key names the form's field ids and the thread's anchor.
FORM_KEY = re.compile(r"^(new|reply-(\d{1,18})|answer-(\d{1,18}))$")
NEW = "new"
# The conversation's lists a "Show earlier" link loads from: the threads on the package,
# a scope entry's threads (`entry:` and its `entry` choice), a thread's replies, a
# decision's answers.
PACKAGE_THREADS = "package"
LIST_KEY = re.compile(r"^(package|entry:[\s\S]+|reply-\d{1,18}|answer-\d{1,18})$")


def entry_value(kind: str, identifier: str) -> str:
    """Return the `entry` choice naming a scope entry: its kind, a colon, its identifier."""
    return f"{kind}:{identifier}"


class CommentForm(forms.Form):
    """A comment's text and, for a new comment, what it is about; replies name their thread."""

    body = forms.CharField(
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=COMMENT_MAX_LENGTH,
        help_text=f"At most {COMMENT_MAX_LENGTH} characters. Mention someone with @username: "
        "they get an e-mail. Comments cannot be edited or deleted.",
        error_messages={"required": "Write a comment."},
    )
    entry = forms.ChoiceField(label="About", required=False)

    def __init__(self, *args, key: str, entries=(), **kwargs):
        kwargs.setdefault("auto_id", f"c-{key}-%s")
        super().__init__(*args, **kwargs)
        self.key = key
        if key == NEW:
            self.fields["entry"].choices = [("", "The package as a whole")] + [
                (
                    entry_value(kind, identifier),
                    f"{vocabulary.label('scope_kind', kind)} {identifier}",
                )
                for kind, identifier in entries
            ]
        else:
            del self.fields["entry"]
            self.fields["body"].label = "Your answer" if key.startswith("answer-") else "Reply"

    def target(self) -> dict:
        """Return the service's arguments naming what the valid form comments on."""
        match = FORM_KEY.match(self.key)
        if match.group(2):
            return {"parent": int(match.group(2))}
        if match.group(3):
            return {"decision": int(match.group(3))}
        kind, _, identifier = (self.cleaned_data.get("entry") or "").partition(":")
        return {"entry": {"kind": kind, "identifier": identifier}} if kind else {}

    def show_error(self, field: str, message: str) -> None:
        """Put a service's error beside the field it names, or above the form."""
        name = "entry" if field.startswith("entry") else field
        self.add_error(name if name in self.fields else None, message)


class EarlierForm(forms.Form):
    """Which folded comments a "Show earlier" link asks for: of a list, those between two."""

    of = forms.RegexField(
        LIST_KEY, max_length=2100, error_messages={"invalid": "No such list of comments."}
    )
    before = forms.IntegerField(min_value=1, max_value=2**63 - 1)
    after = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
