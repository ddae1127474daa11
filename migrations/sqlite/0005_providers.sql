-- Provider webhooks in: Mailgun signs only a timestamp and a one-time token, not the event,
-- so a token seen once is never taken again with another event (a replayed signature).
-- Keep in step with migrations/postgres/0005_providers.sql.
ALTER TABLE provider_events ADD COLUMN token TEXT;
CREATE UNIQUE INDEX provider_events_token ON provider_events (provider, token);
