from tests.conftest import bearer


def test_health_and_login_round_trip(client, staff_token, resident_token):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").get_json()["database"] == "ok"
    token = resident_token("alice")
    me = client.get("/mp/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.get_json()["version"] == 1
    staff = staff_token("urban-handler")
    who = client.get("/console/v1/auth/me", headers=bearer(staff))
    assert who.get_json()["username"] == "urban-handler"
