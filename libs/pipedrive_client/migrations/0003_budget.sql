-- The Pipedrive budget per tenant, shared by every replica of every service (updated under row lock):
-- the burst windows (request times of the rolling window), today's spend, and a closed window.
CREATE TABLE budget (
    tenant_id       text PRIMARY KEY,
    plan            text NOT NULL DEFAULT 'lite',
    seats           integer NOT NULL DEFAULT 1 CHECK (seats >= 1),
    window_times    double precision[] NOT NULL DEFAULT '{}',
    search_times    double precision[] NOT NULL DEFAULT '{}',
    day             bigint NOT NULL DEFAULT 0,
    spent_today     bigint NOT NULL DEFAULT 0,
    closed_until    double precision NOT NULL DEFAULT 0,
    closed_for_day  boolean NOT NULL DEFAULT false
);
