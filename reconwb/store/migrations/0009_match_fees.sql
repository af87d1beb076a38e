-- What a link settles beyond the money it moves: the fee the payer's bank withheld, or the shortfall a
-- tolerance accepted. `amount` comes from the transaction; `amount + fee` is how much of the payment the link
-- settles, so a deposit short by a known fee pays its invoice in full.
-- (DuckDB alters a table only without indexes on it: they are dropped and made again.)
DROP INDEX matches_txn;
DROP INDEX matches_payment;
ALTER TABLE matches ADD COLUMN fee DECIMAL(18, 2) DEFAULT 0;
UPDATE matches SET fee = 0 WHERE fee IS NULL;
CREATE INDEX matches_txn ON matches (txn_id);
CREATE INDEX matches_payment ON matches (payment_id);

-- Automatic one-to-one matches recorded before this column existed settled only the money, leaving an invoice
-- paid short by a fee the rule had accepted `partially_paid`. Give them their fee (the shortfall, when no other
-- live match shares the payment) and move those payments to `paid`, as the engine now does.
UPDATE matches SET fee = p.amount - matches.amount
FROM match_groups g, payments p
WHERE g.group_id = matches.group_id AND p.payment_id = matches.payment_id
  AND g.kind = 'one_to_one' AND g.rule <> 'manual' AND matches.amount < p.amount
  AND NOT EXISTS (SELECT 1 FROM matches y JOIN match_groups h ON h.group_id = y.group_id
                  WHERE y.payment_id = matches.payment_id AND y.group_id <> matches.group_id
                    AND h.status = 'matched');
UPDATE payments SET status = 'paid', updated_at = now()
WHERE status = 'partially_paid' AND amount <= (
    SELECT sum(x.amount + x.fee) FROM matches x JOIN match_groups g ON g.group_id = x.group_id
    WHERE g.status = 'matched' AND x.payment_id = payments.payment_id);
