"""Notifications: WeChat subscribe-message acceptances now; the outbox and the worker's jobs later."""
