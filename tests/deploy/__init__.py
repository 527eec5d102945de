"""Checks of deploy/k8s and the Dockerfiles: rendered with kustomize, no cluster, no network."""
