"""Fault drills: a steady load on the cluster stack, one fault, then every invariant checked."""
