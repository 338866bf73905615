-- Tenant ids follow the event envelope's `tenantid` rule (schemas.envelope.TENANT_ID_PATTERN): 1 to 100
-- letters, digits, '_', '.' or '-'. They travel in every event and every Kafka key, so a tenant whose id
-- breaks the rule can never sync. New ids are checked at once; existing ones are checked here: when all
-- comply the constraint is validated, otherwise each offending id is named in a warning (logged by the
-- migration runner) and the constraint stays NOT VALID, so the other tenants keep working.
-- (0002 is left to the console users migration.)
ALTER TABLE tenants
    ADD CONSTRAINT tenant_id_format CHECK (tenant_id ~ '^[A-Za-z0-9_.-]{1,100}$') NOT VALID;

DO $$
DECLARE
    offending text;
BEGIN
    SELECT string_agg(quote_literal(tenant_id), ', ' ORDER BY tenant_id) INTO offending
      FROM tenants WHERE tenant_id !~ '^[A-Za-z0-9_.-]{1,100}$';
    IF offending IS NULL THEN
        ALTER TABLE tenants VALIDATE CONSTRAINT tenant_id_format;
    ELSE
        RAISE WARNING 'tenant ids that events cannot carry (their syncs fail; recreate them under valid ids): %',
            offending;
    END IF;
END
$$;
