-- Money to the currency's minor unit: KWD, BHD, JOD, OMR, TND (and LYD, IQD) have three decimals, so every
-- money column widens from DECIMAL(18,2) to DECIMAL(18,3). Widening keeps each stored value exactly (2.50 is
-- 2.500); nothing is rounded. DuckDB changes a column's type only on a table without indexes on it: the
-- matches indexes are dropped and made again (PRIMARY KEY and UNIQUE constraints do not stop it).
ALTER TABLE transactions ALTER COLUMN amount TYPE DECIMAL(18, 3);
ALTER TABLE transactions ALTER COLUMN charges TYPE DECIMAL(18, 3);
ALTER TABLE payments ALTER COLUMN amount TYPE DECIMAL(18, 3);
DROP INDEX matches_txn;
DROP INDEX matches_payment;
ALTER TABLE matches ALTER COLUMN amount TYPE DECIMAL(18, 3);
ALTER TABLE matches ALTER COLUMN fee TYPE DECIMAL(18, 3);
CREATE INDEX matches_txn ON matches (txn_id);
CREATE INDEX matches_payment ON matches (payment_id);
