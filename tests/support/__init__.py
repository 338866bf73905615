"""What the tests and the benchmarks share: a free port (`ports`), waiting on a condition (`conditions`),
a service run as its own process (`service_process`), consumer-group positioning and reading topics back
(`kafka_offsets`), when a consumer group is up (`consumer_groups`), a PostgreSQL schema of a test's own,
dropped afterwards (`schemas`), counting rows of a schema a service process creates itself (`rows`), a
service process's consumer group and schema of a test's own (`service_env`), a tenant with an API key
(`tenants`), and a command-line entry point run as its own process (`commands`). Nothing here sets the
environment on import, so the benchmarks (bench/, run as scripts) import it as the tests do."""
