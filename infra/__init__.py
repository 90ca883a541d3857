"""Clients of the infrastructure the server runs on: database, Redis, mail, rate limits, crypto."""
