"""Mechanisms every domain shares: database, errors, auth, pagination, idempotency, concurrency, audit."""
