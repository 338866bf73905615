-- What psyncctl re-drove from a dead-letter topic, and where the copy went: the record of an operator's
-- recovery, and what keeps a second `dlq redrive` from sending the same dead letter again by accident.
CREATE TABLE redrives (
    dlq_topic          text NOT NULL,
    dlq_partition      integer NOT NULL,
    dlq_offset         bigint NOT NULL,
    origin_topic       text NOT NULL,
    produced_partition integer NOT NULL,
    produced_offset    bigint NOT NULL,
    tenant_id          text,
    event_id           text,
    error_class        text,
    value_replaced     boolean NOT NULL DEFAULT false,
    actor              text NOT NULL,
    redriven_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset, redriven_at)
);
