-- The Pipedrive version (`update_time`) the pusher's last write produced: the echo of that write is the
-- source change carrying exactly this version and the values written.
ALTER TABLE push_ledger ADD COLUMN written_version timestamptz;
