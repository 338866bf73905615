-- The ABM store: accounts, contacts, opportunities, and the links ABM id <-> Pipedrive id.
-- Every key starts with the tenant. A record's mapped fields live in `fields` by ABM field name;
-- `match_key` is its domain, email or Pipedrive deal id. Records created by an explicit
-- "create duplicates" import are flagged and exempt from the one-record-per-key rule.
CREATE TABLE accounts (
    tenant_id text NOT NULL,
    abm_id text NOT NULL,
    match_key text,
    is_duplicate boolean NOT NULL DEFAULT false,
    fields jsonb NOT NULL DEFAULT '{}',
    deleted_in_crm boolean NOT NULL DEFAULT false,
    engagement_score integer,
    score_changed_at timestamptz,
    reveal_count integer NOT NULL DEFAULT 0,
    last_revealed_at timestamptz,
    recent_pages jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, abm_id)
);
CREATE UNIQUE INDEX accounts_one_per_domain ON accounts (tenant_id, match_key)
    WHERE match_key IS NOT NULL AND NOT is_duplicate;

CREATE TABLE contacts (
    tenant_id text NOT NULL,
    abm_id text NOT NULL,
    match_key text,
    is_duplicate boolean NOT NULL DEFAULT false,
    fields jsonb NOT NULL DEFAULT '{}',
    deleted_in_crm boolean NOT NULL DEFAULT false,
    account_domain text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, abm_id)
);
CREATE UNIQUE INDEX contacts_one_per_email ON contacts (tenant_id, match_key)
    WHERE match_key IS NOT NULL AND NOT is_duplicate;

CREATE TABLE opportunities (
    tenant_id text NOT NULL,
    abm_id text NOT NULL,
    match_key text,
    is_duplicate boolean NOT NULL DEFAULT false,
    fields jsonb NOT NULL DEFAULT '{}',
    deleted_in_crm boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, abm_id)
);
CREATE UNIQUE INDEX opportunities_one_per_deal ON opportunities (tenant_id, match_key)
    WHERE match_key IS NOT NULL AND NOT is_duplicate;

-- Pipedrive id -> ABM id. `source_update_time` is the Pipedrive version last applied (the version
-- guard); `merged_into_id` is set when Pipedrive merged the record into another.
CREATE TABLE links (
    tenant_id text NOT NULL,
    object text NOT NULL,
    pipedrive_id bigint NOT NULL,
    abm_id text NOT NULL,
    source_update_time timestamptz NOT NULL,
    deleted_in_crm boolean NOT NULL DEFAULT false,
    merged_into_id bigint,
    linked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, object, pipedrive_id)
);
CREATE INDEX links_by_abm_id ON links (tenant_id, object, abm_id);

-- Associations are kept as Pipedrive references on the records' fields (organization / org_id,
-- person_id) and resolved through `links` when read, so they hold whatever order changes arrive in.
CREATE VIEW associations AS
SELECT c.tenant_id, 'contact' AS from_object, c.abm_id AS from_id, 'account' AS to_object, l.abm_id AS to_id
  FROM contacts c
  JOIN links l ON l.tenant_id = c.tenant_id AND l.object = 'organization'
              AND l.pipedrive_id = (c.fields ->> 'organization')::bigint
UNION ALL
SELECT o.tenant_id, 'opportunity', o.abm_id, 'account', l.abm_id
  FROM opportunities o
  JOIN links l ON l.tenant_id = o.tenant_id AND l.object = 'organization'
              AND l.pipedrive_id = (o.fields ->> 'organization')::bigint
UNION ALL
SELECT o.tenant_id, 'opportunity', o.abm_id, 'contact', l.abm_id
  FROM opportunities o
  JOIN links l ON l.tenant_id = o.tenant_id AND l.object = 'person'
              AND l.pipedrive_id = (o.fields ->> 'person')::bigint;
