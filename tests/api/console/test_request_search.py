"""Searching requests: only what my department has or had (supervisors: the departments below too), by
status, service, applicant (masked in results), dates and overdue."""

from __future__ import annotations

from tests.conftest import bearer


def search(client, headers, **params):
    response = client.get("/console/v1/requests", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(page):
    return [item["id"] for item in page["items"]]


def test_search_sees_only_my_departments_requests(client, login_as, submit_request, resident_token):
    repair = submit_request("repair", "lily")
    permit = submit_request("permit", "lily")
    client.patch("/mp/v1/me", headers=bearer(resident_token("lily")),
                 json={"name": "李莉", "phone": "13912345678"})
    urban, market = login_as("urban-handler"), login_as("market-handler")
    assert ids(search(client, urban)) == [repair]
    assert ids(search(client, market)) == []  # the permit is with the service centre, not yet with market
    hit = search(client, urban)["items"][0]
    assert hit["applicant_name"] == "李*"
    assert hit["applicant_phone"] == "139****5678"
    assert "13912345678" not in str(search(client, urban))
    assert ids(search(client, urban, applicant="李")) == [repair]
    assert ids(search(client, urban, applicant="13912345678")) == [repair]
    assert ids(search(client, urban, applicant="王")) == []
    assert ids(search(client, urban, status="completed")) == []
    assert ids(search(client, urban, overdue="false")) == [repair]
    assert ids(search(client, login_as("service-center-handler"), id=permit)) == [permit]
    assert client.get("/console/v1/requests?status=lost", headers=urban).status_code == 422


def test_a_department_keeps_seeing_what_it_handled(client, login_as, submit_request):
    request_id = submit_request("repair")
    urban, housing = login_as("urban-handler"), login_as("housing-handler")
    version = client.get(f"/console/v1/requests/{request_id}", headers=urban).get_json()["version"]
    client.post(f"/console/v1/requests/{request_id}/actions", headers=urban,
                json={"action": "transfer", "data": {"department": "housing"}, "comment": "转住建",
                      "expected_version": version})
    assert ids(search(client, urban)) == [request_id]
    assert ids(search(client, housing)) == [request_id]


def test_a_supervisor_sees_the_departments_below(client, login_as, submit_request):
    request_id = submit_request("repair")
    assert ids(search(client, login_as("district-supervisor"))) == [request_id]
    assert ids(search(client, login_as("district-handler"))) == []
    assert client.get("/console/v1/requests", headers=login_as("publisher")).status_code == 403


def test_a_supervisor_reads_the_detail_of_the_departments_below(client, login_as, submit_request):
    request_id = submit_request("repair")
    assert client.get(f"/console/v1/requests/{request_id}", headers=login_as("district-supervisor")).status_code == 200
    assert client.get(f"/console/v1/requests/{request_id}", headers=login_as("district-handler")).status_code == 404
    assert client.get(f"/console/v1/requests/{request_id}", headers=login_as("housing-supervisor")).status_code == 404
