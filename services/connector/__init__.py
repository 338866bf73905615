"""The connector: connects tenants' Pipedrive accounts and reads every change into Kafka."""
