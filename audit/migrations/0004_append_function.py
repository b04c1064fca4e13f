"""Append an audit event in one round trip on PostgreSQL.

The function takes the chain lock, reads the head, numbers and times the event,
hashes it with the canonical content the application cut around the number and
the time (audit.chain.content_pieces), and inserts it. Each statement of a
PL/pgSQL function takes a fresh snapshot under READ COMMITTED, so the head is
read after the lock is granted, as in the Python path.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audit_append(
    p_head text, p_mid text, p_tail text,
    p_actor_type text, p_actor_id text, p_actor_label text, p_token_label text,
    p_action text, p_target_type text, p_target_id text, p_agent_slug text,
    p_package_version integer, p_before jsonb, p_after jsonb, p_data jsonb,
    p_request_id text, p_created_at timestamptz
) RETURNS TABLE (
    out_id bigint, out_seq bigint, out_created_at timestamptz, out_prev text, out_hash text
) LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_now timestamptz;
    v_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(202014289);
    SELECT e.seq, e.hash INTO v_seq, v_prev
        FROM audit_auditevent e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        v_seq := 0;
        v_prev := repeat('0', 64);
    END IF;
    v_seq := v_seq + 1;
    v_now := p_created_at;
    v_hash := encode(sha256(convert_to(
        v_prev || E'\\n' || p_head
        || to_json(to_char(v_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text
        || p_mid || v_seq::text || p_tail,
        'UTF8')), 'hex');
    RETURN QUERY
        INSERT INTO audit_auditevent AS e (
            seq, created_at, actor_type, actor_id, actor_label, token_label, action,
            target_type, target_id, agent_slug, package_version, before, after, data,
            request_id, prev_hash, hash
        ) VALUES (
            v_seq, v_now, p_actor_type, p_actor_id, p_actor_label, p_token_label, p_action,
            p_target_type, p_target_id, p_agent_slug, p_package_version, p_before, p_after,
            p_data, p_request_id, v_prev, v_hash
        )
        RETURNING e.id, e.seq, e.created_at, e.prev_hash::text, e.hash::text;
END;
$$;
"""

BACKWARD = "DROP FUNCTION IF EXISTS audit_append(text, text, text, text, text, text, text, text, text, text, text, integer, jsonb, jsonb, jsonb, text, timestamptz);"  # noqa: E501


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_checkpoint_append_only")]
    operations = [migrations.RunPython(forward, backward)]
