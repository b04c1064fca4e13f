"""Reads on API tokens."""

import hmac
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection

from config.db import prepared_cursor
from tokens.models import ApiToken
from tokens.services import token_hash, token_prefix_of


def token_for_secret(secret: str) -> ApiToken | None:
    """Return the token (with its user) whose secret this is, in one query, or None."""
    return token_and_row(secret)[0]


def token_and_row(
    secret: str, columns: str = "", join: str = "", params: tuple = ()
) -> tuple[ApiToken | None, tuple]:
    """Return the token (with its user) whose secret this is, and more columns read with it.

    Every API call runs this, the release gate's included, so the query is
    written once as SQL (the ORM built the same join afresh on every call, at
    several times the cost of running it); the instances are the models' own.
    `columns` are selected after the token's and the user's, from tables that
    `join` (with `params`) adds: a caller that needs a row beside the token
    reads both in one round trip. Without a valid token the answer is (None, ()).
    """
    prefix = token_prefix_of(secret)
    if prefix is None:
        return None, ()
    sql, token_fields, user_fields = _token_query(columns, join)
    with prepared_cursor() as cursor:
        cursor.execute(sql, [*params, prefix])
        row = cursor.fetchone()
    if row is None:
        return None, ()
    split, rest = len(token_fields), len(token_fields) + len(user_fields)
    token = _instance(ApiToken, token_fields, row[:split])
    if not hmac.compare_digest(token.key_hash, token_hash(secret)):
        return None, ()
    token.user = _instance(get_user_model(), user_fields, row[split:rest])
    return token, row[rest:]


@cache
def _token_query(columns: str = "", join: str = "") -> tuple[str, tuple, tuple]:
    """Return the SQL of a token and its user by prefix, and the columns it selects.

    Columns come as (attname, column expression, converters): the conversions the
    ORM applies to each value read from this database (JSON text, SQLite's dates).
    """
    user_model = get_user_model()
    quote = connection.ops.quote_name
    token_fields = _columns(ApiToken, "t")
    user_fields = _columns(user_model, "u")
    selected = ", ".join(
        f"{alias}.{quote(column.target.column)}"
        for alias, fields in (("t", token_fields), ("u", user_fields))
        for _, column, _ in fields
    )
    if columns:
        selected += f", {columns}"
    sql = (
        f"SELECT {selected} FROM {quote(ApiToken._meta.db_table)} t "  # noqa: S608 - names from models
        f"JOIN {quote(user_model._meta.db_table)} u "
        f"ON u.{quote(user_model._meta.pk.column)} = t.{quote(ApiToken.user.field.column)} "
        f"{join} WHERE t.{quote(ApiToken._meta.get_field('prefix').column)} = %s"
    )
    return sql, token_fields, user_fields


def _columns(model, alias: str) -> tuple:
    columns = []
    for field in model._meta.concrete_fields:
        column = field.get_col(alias)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        columns.append((field.attname, column, tuple(converters)))
    return tuple(columns)


def _instance(model, columns: tuple, values):
    """Build a model instance from a row of its concrete fields, as the ORM would."""
    converted = []
    for (_, column, converters), value in zip(columns, values, strict=True):
        for converter in converters:
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, [attname for attname, _, _ in columns], converted)


def tokens_list(*, user=None, include_revoked: bool = True):
    """Return the tokens, newest first, optionally of one user only."""
    tokens = ApiToken.objects.select_related("user").order_by("-created_at")
    if user is not None:
        tokens = tokens.filter(user=user)
    if not include_revoked:
        tokens = tokens.filter(revoked_at__isnull=True)
    return tokens
