-- A big payments file applied in chunks (`reconwb.payments.import_into`) no longer hides its new payments by
-- status (`staged:<run id>`, revealed by one UPDATE of every staged row: DuckDB keeps that UPDATE's undo in
-- memory and cannot spill it, 2.34 GB for a 24.5M-row file). Its new payments go in with their real status and
-- `import_run` set to the run; a payment shows (`payments.visible`) when `import_run` is NULL or its run's
-- outcome is `imported`, so the reveal is a one-row UPDATE of `payment_import_runs`. Rows staged the old way
-- by a run that never finished carry the marker the new way and stay hidden until that run is undone.
ALTER TABLE payments ADD COLUMN import_run VARCHAR;
UPDATE payments SET import_run = substr(status, 8), status = 'open' WHERE status LIKE 'staged:%';
