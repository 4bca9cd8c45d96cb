"""Every console list refuses malformed query parameters with a 422 (or 400 for a cursor) problem, naming the
parameter."""

from __future__ import annotations

import pytest

CASES = [
    ("urban-handler", "/console/v1/tasks", {"overdue": "maybe"}, 422, "overdue"),
    ("urban-handler", "/console/v1/tasks", {"limit": "0"}, 422, "limit"),
    ("urban-handler", "/console/v1/tasks", {"due_before": "tomorrow"}, 422, "due_before"),
    ("urban-handler", "/console/v1/tasks", {"cursor": "not-a-cursor"}, 400, "cursor"),
    ("urban-handler", "/console/v1/requests", {"submitted_from": "2026-13-01"}, 422, "submitted_from"),
    ("urban-handler", "/console/v1/ratings/follow-ups", {"status": "lost"}, 422, "status"),
    ("urban-supervisor", "/console/v1/supervisions", {"due_before": "soon"}, 422, "due_before"),
    ("admin", "/console/v1/audit", {"limit": "-1"}, 422, "limit"),
    ("admin", "/console/v1/staff", {"cursor": "%%%"}, 400, "cursor"),
    ("urban-handler", "/console/v1/consultations", {"status": "lost"}, 422, "status"),
    ("publisher", "/console/v1/notices", {"status": "lost"}, 422, "status"),
    ("reviewer", "/console/v1/notices", {"category": "gossip"}, 422, "category"),
    ("publisher", "/console/v1/notices", {"q": ""}, 422, "q"),
    ("urban-handler", "/console/v1/services", {"include_inactive": "perhaps"}, 422, "include_inactive"),
    ("urban-handler", "/console/v1/processes/repair/compare", {"from": "one", "to": "2"}, 422, "from"),
    ("urban-handler", "/console/v1/calendar", {"from": "2026-01-01"}, 422, "to"),
    ("urban-supervisor", "/console/v1/stats/backlog", {"from": "2026-01-01"}, 422, "to"),
    ("urban-supervisor", "/console/v1/stats/throughput", {"from": "2026-01-01", "to": "2026-01-07",
                                                          "granularity": "month"}, 422, "granularity"),
    ("admin", "/console/v1/stats/steps", {"from": "2026-02-30", "to": "2026-03-01"}, 422, "from"),
    ("admin", "/console/v1/stats/ratings", {"from": "2026-01-01", "to": "2026-01-07", "group": "x"}, 422, "group"),
    ("admin", "/console/v1/stats/event-log", {"format": "pdf"}, 422, "format"),
    ("admin", "/console/v1/stats/event-log", {"format": "xes", "from": "2026-02-01", "to": "2026-01-01"}, 422, "to"),
]


@pytest.mark.parametrize(("username", "url", "query", "status", "field"), CASES,
                         ids=[f"{url} {','.join(query)}" for _, url, query, _, _ in CASES])
def test_bad_query_parameters(client, login_as, username, url, query, status, field):
    response = client.get(url, headers=login_as(username), query_string=query)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
