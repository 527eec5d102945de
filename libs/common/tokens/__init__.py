"""Ids and tokens: session ids, checkout token signing and verification, the JWKS client."""
