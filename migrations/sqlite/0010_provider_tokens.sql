-- Mailgun's one-time tokens, whatever their event. Keep in step with
-- migrations/postgres/0010_provider_tokens.sql.

-- Mailgun signs only a timestamp and a token, not the event. A token was only remembered with
-- an event we record, so the signature of an ignored event (`accepted`) could be sent again,
-- within the freshness window, with any other event. Every token is now spent here first, with
-- the id of the event it came with (a provider's retry of that same event is not a replay).
-- Rows older than the freshness window are dropped: their timestamps are refused anyway.
CREATE TABLE provider_tokens (
    provider TEXT NOT NULL,
    token TEXT NOT NULL,
    event_id TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (provider, token)
);
CREATE INDEX provider_tokens_seen ON provider_tokens (seen_at);
