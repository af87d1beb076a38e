-- Payments keep their id unique without an index. DuckDB holds a PRIMARY KEY's index (ART) wholly in memory
-- and cannot spill it: at about 80 bytes a key, a 2 GB invoicing export (25 million payments) needed 2 GB for
-- the index alone. Every payment is written by one function (reconwb.payments, `_upsert_from`): it refuses a
-- file that repeats an id and inserts only ids the table does not hold, with joins DuckDB can spill to disk.
-- The table is copied whole (every column, whatever earlier migrations added), then its defaults and NOT NULLs
-- are set again.
CREATE TABLE payments_0018 AS SELECT * FROM payments;
DROP TABLE payments;
ALTER TABLE payments_0018 RENAME TO payments;
ALTER TABLE payments ALTER COLUMN payment_id SET NOT NULL;
ALTER TABLE payments ALTER COLUMN amount SET NOT NULL;
ALTER TABLE payments ALTER COLUMN currency SET NOT NULL;
ALTER TABLE payments ALTER COLUMN status SET DEFAULT 'open';
ALTER TABLE payments ALTER COLUMN status SET NOT NULL;
ALTER TABLE payments ALTER COLUMN source SET DEFAULT 'file';
ALTER TABLE payments ALTER COLUMN source SET NOT NULL;
ALTER TABLE payments ALTER COLUMN created_at SET DEFAULT current_timestamp;
ALTER TABLE payments ALTER COLUMN created_at SET NOT NULL;
ALTER TABLE payments ALTER COLUMN updated_at SET DEFAULT current_timestamp;
ALTER TABLE payments ALTER COLUMN updated_at SET NOT NULL;
