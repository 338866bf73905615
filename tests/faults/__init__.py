"""`make faults`: the fault report. Each scenario crashes something during an import on the local stack
(private PostgreSQL and Kafka on loopback, started by deploy/local's scripts; every service a process
of its own), checks that nothing was lost or doubled, and adds its figures to
bench-results/faults.json. Not part of `make test` (collected only with PSYNC_FAULTS=1)."""
