-- Webhook delivery ids are remembered only for CONNECTOR_WEBHOOK_DELIVERY_WINDOW_S (Pipedrive retries a
-- delivery within minutes): the pruning worker finds the expired rows by time.
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries (received_at);
