-- Outgoing webhooks: when a delivery was last tried, so `status` shows each endpoint's latest
-- error. Keep in step with migrations/postgres/0006_webhooks.sql.
ALTER TABLE webhook_deliveries ADD COLUMN last_attempt_at BIGINT;
