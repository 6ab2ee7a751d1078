-- pgbench script: the transaction chatpay runs for one link creation on
-- PostgreSQL (channel none, no Idempotency-Key), statement for statement,
-- as the server's log shows it (log_statement = all): the merchant with its
-- callback settings, its currencies, then one statement that checks the
-- order's earlier links and writes the link (unless the order is taken)
-- with its first history entry, in a SERIALIZABLE transaction with the
-- savepoint group commit puts around each request (released by the COMMIT,
-- or with the next request's SAVEPOINT). chatpay sends the SAVEPOINT in one
-- round trip with the statement after it, and in a group of several
-- creations of one merchant only the first reads the merchant and its
-- currencies; here each transaction is a group of one. bench/pg runs it
-- beside chatpay to tell the database's share of a creation from chatpay's.
-- Keep it in step with db/sql/links.c, db/sql/merchants.c and
-- service/links.c. Variables: mid (the merchant's id, -D mid=...).
\set n random(1, 1000000000)
BEGIN ISOLATION LEVEL SERIALIZABLE;
SAVEPOINT batch_request;
SELECT id, name, environment, sms_enabled, whatsapp_enabled, created_at, updated_at, default_transaction_type, link_ttl_s, click_ttl_s, page_ttl_s, sms_from, whatsapp_from, max_payment_attempts, settlement_delay_s, review_settle_s, sms_provider_id, whatsapp_provider_id, fallback_sms, reminders, quiet_start, quiet_end, timezone, wa_template, wa_template_lang, wa_template_params, gateway_provider_id, COALESCE(logo_type, ''), COALESCE(length(logo), 0), payment_status_callback, transaction_event_callback, settings_callback, COALESCE(callback_secret, ''), COALESCE(callback_secret_old, ''), callback_secret_old_until FROM merchants WHERE id = :mid;
SELECT code, is_default FROM merchant_currencies WHERE merchant_id = :mid ORDER BY position;
WITH b AS (SELECT ref, CASE WHEN payment_status = 1 THEN 3 WHEN payment_status IN (4, 5) OR EXISTS (SELECT 1 FROM payment_ops o WHERE o.link_id = links.id AND +o.state = 0 AND o.op IN (1, 2)) THEN 2 WHEN expires_at > 1796592805830392 THEN 1 ELSE 0 END AS why FROM links WHERE merchant_id = :mid AND order_number = 'p' || :client_id || '-' || :n AND +live = 1 ORDER BY why DESC, id DESC LIMIT 1), l AS (INSERT INTO links (merchant_id, ref, token, order_number, channel, msisdn_to, msisdn_from, currency, total_minor, subtotal_minor, tax_minor, transaction_type, application_id, gateway_settings_id, reconciliation_id, merchant_descriptor, additional_data, line_items, auto_reversal, request_timestamp, status, payment_status, live, created_at, expires_at) SELECT :mid, md5(random()::text), md5(random()::text), 'p' || :client_id || '-' || :n, 0, '27821234567', '', 'ZAR', 11500, 10000, 1500, 2, '', '', NULL, NULL, NULL, NULL, 0, 1795341600000000, 1, 3, 1, 1796592805830392, 1796593105830392 WHERE NOT EXISTS (SELECT 1 FROM b WHERE why > 0) RETURNING id), s AS (INSERT INTO link_statuses (link_id, merchant_id, status, created_at, http_code, response_code, response_desc) SELECT id, :mid, 1, 1796592805830392, 0, NULL, NULL FROM l RETURNING link_id) SELECT (SELECT link_id FROM s), COALESCE((SELECT why FROM b), 0), COALESCE((SELECT ref FROM b), '');
COMMIT;
