-- Parked pushes give up eventually: `failures` counts re-drives that failed for a reason other than the
-- tenant's budget (a budget pause never counts), and the origin of the event is kept so that a push that
-- gives up is dead-lettered like any other message (rows parked before this migration have no origin).
ALTER TABLE parked_pushes
    ADD COLUMN failures integer NOT NULL DEFAULT 0,
    ADD COLUMN origin_partition integer,
    ADD COLUMN origin_offset bigint,
    ADD COLUMN origin_key text;
