"""Code shared by every Waitroom service: imported, never run."""
