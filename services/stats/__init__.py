"""The stats service: live figures of each sale, computed from the event stream."""
