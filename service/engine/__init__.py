"""The process engine, in pure Python: process definitions and their validation, the runtime that applies an
action (definition + state + action + actor + clock → new state + events), and the working-day clock.

It imports neither Flask nor SQLAlchemy; persistence and the HTTP surfaces call it.
"""
