"""Statements numbered for PostgreSQL ($1, $2, ...) from SQLAlchemy's psycopg SQL (%(name)s)."""

from __future__ import annotations

from service.core.pgwire import Prepared


def test_parameters_are_numbered_in_order_of_first_use_and_percent_signs_unescaped():
    prepared = Prepared.of("UPDATE t SET a = %(a)s, b = %(b)s WHERE c LIKE 'x%%' AND a <> %(a)s")
    assert prepared.sql == "UPDATE t SET a = $1, b = $2 WHERE c LIKE 'x%' AND a <> $1"
    assert prepared.order == ("a", "b")


def test_each_statement_gets_a_name_of_its_own():
    first, second = Prepared.of("SELECT 1"), Prepared.of("SELECT 1")
    assert first.name != second.name
    assert first.name.startswith("civicdesk_")
    assert first.order == ()
