-- Users, browser sessions, API tokens and the append-only audit log (mes/auth/).
-- Secrets are never stored: passwords as argon2id hashes, session and API tokens
-- as SHA-256 digests of 256-bit random values.

CREATE TABLE users (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text        NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$'),
    display_name        text        NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    role                text        NOT NULL CHECK (role IN ('operator', 'supervisor', 'quality', 'maintenance',
                                                              'manager', 'admin')),
    locale              text        NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'zh-CN')),
    password_hash       text        NOT NULL,
    disabled            boolean     NOT NULL DEFAULT false,
    failed_sign_ins     integer     NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_sessions (
    token_hash bytea       PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    csrf_token text        NOT NULL,
    address    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);

CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users ON DELETE CASCADE,
    name         text        NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    prefix       text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE,
    scopes       text[]      NOT NULL CHECK (cardinality(scopes) > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

CREATE TABLE audit_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text        NOT NULL,
    action  text        NOT NULL,
    object  text        NOT NULL,
    address text,
    route   text,
    before  jsonb,
    after   jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
CREATE INDEX audit_log_object ON audit_log (object, at);

-- Append-only: no role (not even the owner the application connects as) may change or
-- remove a row once written.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
