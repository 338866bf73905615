-- Which Pipedrive company and user a tenant's credentials belong to (Pipedrive's app-uninstall callback
-- names the company, not our tenant), and whether Pipedrive refused them for good (a refresh token
-- refused, a revoked grant, a revoked API token): the connection then needs reconnecting, and no call is
-- sent with them until new credentials are saved.
ALTER TABLE credentials
    ADD COLUMN company_id     bigint,
    ADD COLUMN user_id        bigint,
    ADD COLUMN refused_at     timestamptz,
    ADD COLUMN refused_reason text;
CREATE INDEX credentials_by_company ON credentials (company_id) WHERE company_id IS NOT NULL;

-- Who started an OAuth flow (the console user acting for the key's session, if any) and where the
-- browser goes back when it ends (an address from the connector's allow-list).
ALTER TABLE oauth_states
    ADD COLUMN actor     text,
    ADD COLUMN return_to text;
