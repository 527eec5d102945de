"""The waitroom service: join, status, admin, and the queue processor."""
