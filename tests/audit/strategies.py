"""Audit events with every kind of value a hash must encode, for the property tests.

Texts hold what PostgreSQL can store: any character but NUL (text columns and
`jsonb` refuse it) and lone surrogates (not UTF-8), and the escapes of JSON and of
COPY's text format as plain characters.
"""

from datetime import UTC, datetime

from hypothesis import strategies as st

TRICKY = [
    "",
    'quote " backslash \\ slash /',
    "control \x01\x08\x0b\x0c\n\r\t\x1b\x1f del \x7f",
    "unicode é ñ 漢字 emoji 🙂 𝄞 line-sep \u2028 para \u2029 bom \ufeff",
    "\\u0000 and \\u0041 are not escapes here",
    "\\N",
    "\\",
    "\\t \\n \\\\ \\x41 \\101",
    "tab\there",
    "{}",
    "null",
]

characters = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


def texts(max_size: int = 24) -> st.SearchStrategy[str]:
    """Return texts of up to max_size characters, tricky pieces among them."""
    pieces = st.sampled_from(TRICKY) | st.text(characters, max_size=6)
    joined = st.lists(pieces, max_size=4).map("".join)
    return (st.text(characters, max_size=max_size) | joined).map(lambda text: text[:max_size])


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**31, -(2**63), 2**64 + 1, 10**30, -(10**40)]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, -0.0, 1e-07, 1e16, 1.5e300, 5e-324, 2.0**53 + 2]),
    texts(),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(8), inner, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(texts(8), json_values, max_size=4)
# A JSON column holds an object as the services write it, or any JSON but null.
json_columns = json_objects | json_values.filter(lambda value: value is not None)

event_times = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)

# Stored events' columns (not numbered, not linked), within the columns' lengths.
stored_columns = st.fixed_dictionaries(
    {
        "created_at": event_times,
        "actor_type": st.sampled_from(["user", "token", "system"]) | texts(16),
        "actor_id": texts(64),
        "actor_label": texts(200),
        "token_label": texts(200),
        "action": texts(64),
        "target_type": texts(64),
        "target_id": texts(64),
        "agent_slug": texts(64),
        "package_version": st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1),
        "before": json_columns,
        "after": json_columns,
        "data": json_columns,
        "request_id": texts(64),
    }
)
