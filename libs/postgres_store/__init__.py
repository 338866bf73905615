"""postgres_store."""
