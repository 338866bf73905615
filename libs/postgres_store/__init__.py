"""PostgreSQL plumbing shared by the services: the pool, ordered migrations per schema, the inbox."""
