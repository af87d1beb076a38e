-- Webhook secret rotation with an overlap: after `rotate-secret`, deliveries are signed with the new secret AND
-- the previous one (two `v1,` signatures, as the Standard Webhooks spec allows) until `previous_secret_until`,
-- so a receiver can switch to the new secret at any time in that window without refusing a message.
-- NULL: no previous secret is in use. The previous secret itself is sealed in the vault like the current one.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_until TIMESTAMPTZ;
