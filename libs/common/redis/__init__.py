"""Redis: the client, batched script calls, pub/sub hints between replicas."""
