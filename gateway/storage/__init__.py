"""Durable storage: the database wrapper, the durable log and its group-commit writer."""
