"""Secrets Manager: secrets kept in the state folder (moto serves the API)."""
