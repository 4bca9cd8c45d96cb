"""Many clients act on one request with the same expected_version: exactly one wins, the rest get 409, and
exactly one event is written. Runs on SQLite (BEGIN IMMEDIATE) and on PostgreSQL (row lock + version check)."""

from __future__ import annotations

import threading

from tests.conftest import count_rows

CLIENTS = 8


def test_concurrent_actions_exactly_one_wins(app, login_as, submit_request):
    request_id = submit_request("repair")
    headers = login_as("urban-handler")
    barrier = threading.Barrier(CLIENTS)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(f"/console/v1/requests/{request_id}/actions", headers=headers,
                               json={"action": "accept", "expected_version": 1})
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] + [409] * (CLIENTS - 1)
    assert count_rows(app, "request_events", request_id=request_id, action="accept") == 1
    assert count_rows(app, "audit_records", object_id=request_id, action="request.accept") == 1
