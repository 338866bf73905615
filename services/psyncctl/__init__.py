"""`psyncctl`: the operators' command-line tool (lag, replay, dead letters, resync, tenants, runs).

It is not a service: it runs on an operator's machine or in a pod, against the same Kafka and PostgreSQL
as the services. It changes another package's tables only through that package's store module (the
connector's cursors and runs for `resync`), and keeps a table of its own (`psyncctl.redrives`) recording
what it re-drove.
"""
