-- 1.2 million customers for the admin console's search benchmark (PostgreSQL): 1,000,000 at
-- jonan-shinkin and 200,000 at shinkin-001, each with one bound token (every 50th locked),
-- a third of them with a 利用者ID. Run on a database `mamori migrate` has prepared and the
-- tenant configs applied (start `mamori serve` on it once). The secrets are placeholders:
-- these rows are for searching, not for checking codes.
INSERT INTO users (id, tenant_id, contract_number, user_code, display_name, created_at, updated_at)
SELECT 'usr_' || md5(i::text), CASE WHEN i <= 1000000 THEN 'jonan-shinkin' ELSE 'shinkin-001' END,
       lpad(i::text, 10, '0'), CASE WHEN i % 3 = 0 THEN 'u' || (i % 1000) ELSE '' END,
       '', now(), now()
FROM generate_series(1, 1200000) i;
INSERT INTO credentials (id, kind, algorithm, digits, period, secret_ciphertext, secret_key_id, created_at, updated_at)
SELECT 'SN' || lpad(i::text, 10, '0'), 'totp', 'SHA1', 6, 30, '\x00'::bytea, 'placeholder', now(), now()
FROM generate_series(1, 1200000) i;
INSERT INTO bindings (id, tenant_id, user_id, credential_id, state, created_at, updated_at)
SELECT 'bnd_' || md5(i::text), CASE WHEN i <= 1000000 THEN 'jonan-shinkin' ELSE 'shinkin-001' END,
       'usr_' || md5(i::text), 'SN' || lpad(i::text, 10, '0'),
       CASE WHEN i % 50 = 0 THEN 'locked' ELSE 'active' END, now(), now()
FROM generate_series(1, 1200000) i;
ANALYZE;
