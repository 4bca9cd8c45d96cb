"""Requests (办件): one resident's submission of a service, moved through its process by the engine."""
