"""Outages and crashes of PostgreSQL, Kafka and the services, on private servers (the shared ones are
never stopped): short runs in `make test`, long ones in `make faults` (faults/)."""
