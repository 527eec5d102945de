"""Kafka plumbing: the publisher, the consume loops, the outbox relay, topics and payloads."""
