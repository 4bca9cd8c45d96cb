"""Staff handle notices: drafts, four-eyes review, scheduled publication, revisions after publication,
withdrawal, attachments, concurrency and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service.accounts import operations as account_operations
from service.accounts.models import Department, Staff
from service.core.auth import Actor
from service.core.db import db, utcnow
from service.notices import operations, queries
from service.notices.models import Notice
from tests.api.test_authorization import _png
from tests.conftest import DEMO_PASSWORD, bearer, count_rows, problem

PROBLEM = "application/problem+json"
URL = "/console/v1/notices"
Login = Callable[[str], dict[str, str]]
DRAFT = {"title": "关于春节期间政务服务中心开放时间的通知", "category": "announcement",
         "body": "春节期间（2月10日至2月17日）政务服务中心暂停线下办理。\n\n网上办理不受影响。",
         "summary": "春节期间线下窗口暂停办理"}


@pytest.fixture
def second_staff(app: Flask, demo: Flask, client: FlaskClient) -> Callable[[str, str], dict[str, str]]:
    """Another gov-office account with one role, signed in."""

    def make(username: str, role: str) -> dict[str, str]:
        with app.app_context():
            office = db.session.execute(sa.select(Department).where(Department.code == "gov-office")).scalar_one()
            account_operations.create_staff(Actor(kind="system", id="system"), username=username,
                                            password=DEMO_PASSWORD, department_id=office.id, roles=[role])
            db.session.commit()
        response = client.post("/console/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 200
        return bearer(response.get_json()["token"])

    return make


def staff_id(app: Flask, username: str) -> str:
    with app.app_context():
        return str(db.session.execute(sa.select(Staff.id).where(Staff.username == username)).scalar_one())


def create(client: FlaskClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.post(URL, json={**DRAFT, **changes}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def act(client: FlaskClient, headers: dict[str, str], notice: dict[str, Any], action: str, **body: Any) -> Any:
    return client.post(f"{URL}/{notice['id']}/actions", headers=headers,
                       json={"action": action, "expected_version": notice["version"], **body})


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def test_draft_submit_approve_publish_and_read_publicly(app: Flask, client: FlaskClient, login_as: Login) -> None:
    publisher, reviewer = login_as("publisher"), login_as("reviewer")

    draft = create(client, publisher)
    assert draft["status"] == "draft"
    assert draft["revision"] == 0
    assert draft["published_at"] is None
    assert draft["allowed_actions"] == ["submit"]
    assert client.get(f"/mp/v1/notices/{draft['id']}").status_code == 404

    submitted = ok(act(client, publisher, draft, "submit"))
    assert submitted["status"] == "in_review"
    assert ok(client.get(f"{URL}/{draft['id']}", headers=reviewer))["allowed_actions"] == ["approve", "reject"]

    published = ok(act(client, reviewer, submitted, "approve", comment="同意发布"))
    assert published["status"] == "published"
    assert published["published_at"].endswith("+08:00")
    assert published["reviewed_by"] == staff_id(app, "reviewer")
    assert published["revision"] == 1
    assert [(h["action"], h["from_status"], h["to_status"]) for h in published["history"]] == [
        ("create", None, "draft"), ("submit", "draft", "in_review"), ("approve", "in_review", "published")]

    public = client.get(f"/mp/v1/notices/{draft['id']}")
    assert public.status_code == 200
    assert public.headers["ETag"] == f'"{published["version"]}"'
    body = public.get_json()
    assert (body["title"], body["body"], body["status"], body["category_name"]) == (
        DRAFT["title"], DRAFT["body"], "published", "通知公告")
    assert "history" not in body
    assert "author_id" not in body
    listed = client.get("/mp/v1/notices").get_json()
    assert [item["id"] for item in listed["items"]] == [draft["id"]]
    assert listed["message"] is None
    actions = [a for (a,) in _audit(app, draft["id"])]
    assert actions == ["notice.created", "notice.submit", "notice.approve"]


def _audit(app: Flask, notice_id: str) -> list[Any]:
    with app.app_context():
        return list(db.session.execute(sa.text(
            "SELECT action FROM audit_records WHERE object_type = 'notice' AND object_id = :id ORDER BY id"),
            {"id": notice_id}).all())


def test_an_author_cannot_approve_their_own_notice(app: Flask, client: FlaskClient, login_as: Login,
                                                  second_staff: Callable[[str, str], dict[str, str]]) -> None:
    # someone holding both roles writes a notice: as a reviewer they still may not approve it
    both = second_staff("both-roles", "publisher")
    with app.app_context():
        account = db.session.execute(sa.select(Staff).where(Staff.username == "both-roles")).scalar_one()
        account_operations.update_staff(Actor(kind="system", id="system"), account.id,
                                        {"roles": ["publisher", "reviewer"]}, account.version)
        db.session.commit()
    both = bearer(client.post("/console/v1/auth/login",
                              json={"username": "both-roles", "password": DEMO_PASSWORD}).get_json()["token"])
    notice = ok(act(client, both, create(client, both), "submit"))
    assert notice["allowed_actions"] == ["reject"]

    refused = problem(act(client, both, notice, "approve"), 403)
    assert "another reviewer" in refused["detail"]
    assert count_rows(app, "notices", status="in_review") == 1

    # nor may a reviewer who edited the draft on the way
    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    other = create(client, publisher)
    assert ok(act(client, publisher, other, "submit"))["status"] == "in_review"
    assert ok(act(client, login_as("reviewer"), ok(client.get(f"{URL}/{other['id']}", headers=reviewer)),
                  "approve"))["status"] == "published"
    assert count_rows(app, "audit_records", action="notice.approve") == 1


def test_reject_sends_back_with_a_reason_and_edits_then_resubmit(app: Flask, client: FlaskClient,
                                                                 login_as: Login) -> None:
    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    notice = ok(act(client, publisher, create(client, publisher), "submit"))

    problem(client.patch(f"{URL}/{notice['id']}", json={"title": "改", "expected_version": notice["version"]},
                         headers=publisher), 422)  # too short a title
    conflict = problem(client.patch(f"{URL}/{notice['id']}", headers=publisher,
                                    json={"title": "在审核中改标题", "expected_version": notice["version"]}), 409)
    assert "reject" in conflict["detail"]
    assert "comment" in problem(act(client, reviewer, notice, "reject"), 422)["errors"]

    rejected = ok(act(client, reviewer, notice, "reject", comment="开放时间写错了"))
    assert rejected["status"] == "draft"
    assert rejected["history"][-1]["comment"] == "开放时间写错了"
    edited = ok(client.patch(f"{URL}/{notice['id']}", headers=publisher,
                             json={"body": "春节期间暂停线下办理。", "expected_version": rejected["version"]}))
    assert edited["body"] == "春节期间暂停线下办理。"
    assert edited["revision"] == 0
    assert edited["history"][-1]["action"] == "edit"
    assert ok(act(client, publisher, edited, "submit"))["status"] == "in_review"


def test_scheduled_publication_appears_at_its_time_and_not_before(app: Flask, client: FlaskClient,
                                                                  login_as: Login,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    notice = ok(act(client, publisher, create(client, publisher), "submit"))
    publish_at = (utcnow() + timedelta(hours=2)).replace(microsecond=0)

    past = act(client, reviewer, notice, "approve", data={"publish_at": (utcnow() - timedelta(minutes=1)).isoformat()})
    assert "data.publish_at" in problem(past, 422)["errors"]
    assert "data.publish_at" in problem(act(client, reviewer, notice, "approve",
                                            data={"publish_at": "2031-01-01T10:00:00"}), 422)["errors"]  # no offset
    scheduled = ok(act(client, reviewer, notice, "approve", data={"publish_at": publish_at.isoformat()}))
    assert scheduled["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled["published_at"]) == publish_at

    def public_at(moment: datetime) -> tuple[int, list[str], int]:
        monkeypatch.setattr("service.notices.queries.utcnow", lambda: moment)
        detail = client.get(f"/mp/v1/notices/{notice['id']}").status_code
        listed = [item["id"] for item in client.get("/mp/v1/notices").get_json()["items"]]
        feed = client.get("/feeds/notices.json").get_json()["items"]
        return detail, listed, len(feed)

    assert public_at(publish_at - timedelta(seconds=1)) == (404, [], 0)
    assert public_at(publish_at) == (200, [notice["id"]], 1)
    assert public_at(publish_at + timedelta(days=1)) == (200, [notice["id"]], 1)
    with app.app_context():
        assert db.session.get(Notice, notice["id"]).status == "scheduled"  # type: ignore[union-attr]


def test_publish_due_notices_records_what_became_public(app: Flask, demo: Flask) -> None:
    with app.app_context():
        office = db.session.execute(sa.select(Department).where(Department.code == "gov-office")).scalar_one()
        ids = {s.username: s.id for s in db.session.execute(sa.select(Staff)).scalars()}
        author = Actor(kind="staff", id=ids["publisher"], department_id=office.id, roles=frozenset({"publisher"}))
        reviewer = Actor(kind="staff", id=ids["reviewer"], department_id=office.id, roles=frozenset({"reviewer"}))
        start = datetime.fromisoformat("2031-03-01T09:00:00+08:00")
        due_times = [start + timedelta(hours=1), start + timedelta(hours=3)]
        notices = []
        for due in due_times:
            notice = operations.create(author, "停水通知", "3月1日停水", "public_notice", at=start)
            operations.act(author, notice.id, "submit", None, {}, notice.version, at=start)
            operations.act(reviewer, notice.id, "approve", None, {"publish_at": due}, notice.version, at=start)
            notices.append(notice.id)
        db.session.commit()

        assert operations.publish_due_notices(start + timedelta(minutes=59)) == 0
        assert [n.id for n in queries.feed_notices(None, 50, start + timedelta(minutes=59))] == []
        assert operations.publish_due_notices(start + timedelta(hours=2)) == 1
        db.session.commit()
        assert [db.session.get(Notice, i).status for i in notices] == ["published", "scheduled"]  # type: ignore
        assert operations.publish_due_notices(start + timedelta(hours=2)) == 0  # idempotent
        assert operations.publish_due_notices(start + timedelta(hours=5)) == 1
        db.session.commit()
        first = db.session.get(Notice, notices[0])
        assert first is not None
        assert first.published_at == due_times[0]
        assert first.history[-1]["action"] == "publish"
        assert first.history[-1]["actor_kind"] == "system"
    assert count_rows(app, "audit_records", action="notice.publish", actor_kind="system") == 2


def test_publish_a_scheduled_notice_now_and_reject_a_scheduled_one(client: FlaskClient, login_as: Login) -> None:
    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    later = (utcnow() + timedelta(days=3)).isoformat()
    first = ok(act(client, reviewer, ok(act(client, publisher, create(client, publisher), "submit")), "approve",
                   data={"publish_at": later}))
    assert "publish" in first["allowed_actions"]
    problem(act(client, publisher, first, "publish"), 403)  # a publisher does not decide when
    now = ok(act(client, reviewer, first, "publish"))
    assert now["status"] == "published"
    assert datetime.fromisoformat(now["published_at"]) <= utcnow()
    assert client.get(f"/mp/v1/notices/{first['id']}").status_code == 200

    second = ok(act(client, reviewer, ok(act(client, publisher, create(client, publisher), "submit")), "approve",
                    data={"publish_at": later}))
    back = ok(act(client, reviewer, second, "reject", comment="暂缓发布"))
    assert (back["status"], back["published_at"]) == ("draft", None)


def test_revisions_after_publication_wait_for_a_second_pair_of_eyes(
        app: Flask, client: FlaskClient, login_as: Login,
        second_staff: Callable[[str, str], dict[str, str]]) -> None:
    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    notice = ok(act(client, reviewer, ok(act(client, publisher, create(client, publisher), "submit")), "approve"))

    missing = client.patch(f"{URL}/{notice['id']}", headers=publisher,
                           json={"body": "更正：2月18日恢复办理。", "expected_version": notice["version"]})
    assert "comment" in problem(missing, 422)["errors"]
    proposed = ok(client.patch(f"{URL}/{notice['id']}", headers=publisher,
                               json={"body": "更正：2月18日恢复办理。", "comment": "更正恢复日期",
                                     "expected_version": notice["version"]}))
    # nothing public changes yet: the change waits for review
    assert (proposed["status"], proposed["revision"], proposed["body"]) == ("published", 1, DRAFT["body"])
    pending = proposed["pending_revision"]
    assert (pending["body"], pending["fields"], pending["comment"]) == (
        "更正：2月18日恢复办理。", ["body"], "更正恢复日期")
    assert client.get(f"/mp/v1/notices/{notice['id']}").get_json()["body"] == DRAFT["body"]
    assert client.get("/mp/v1/notices", query_string={"q": "恢复"}).get_json()["items"] == []
    assert proposed["allowed_actions"] == ["withdraw"]  # a publisher cannot approve it

    # a reviewer who edited the revision may not approve it
    editing_reviewer = second_staff("editing-reviewer", "publisher")
    with app.app_context():
        account = db.session.execute(sa.select(Staff).where(Staff.username == "editing-reviewer")).scalar_one()
        account_operations.update_staff(Actor(kind="system", id="system"), account.id,
                                        {"roles": ["publisher", "reviewer"]}, account.version)
        db.session.commit()
    editing_reviewer = bearer(client.post("/console/v1/auth/login", json={
        "username": "editing-reviewer", "password": DEMO_PASSWORD}).get_json()["token"])
    proposed = ok(client.patch(f"{URL}/{notice['id']}", headers=editing_reviewer,
                               json={"title": "关于春节期间政务服务中心开放时间的通知（更正）",
                                     "comment": "标题注明更正",
                                     "expected_version": proposed["version"]}))
    assert proposed["pending_revision"]["fields"] == ["body", "title"]
    assert "approve" not in proposed["allowed_actions"]
    assert "another reviewer" in problem(act(client, editing_reviewer, proposed, "approve"), 403)["detail"]

    # the reviewer who approved the original may approve the revision: they did not write it
    revised = ok(act(client, reviewer, proposed, "approve"))
    assert (revised["status"], revised["revision"], revised["body"], revised["pending_revision"]) == (
        "published", 2, "更正：2月18日恢复办理。", None)
    assert revised["title"].endswith("（更正）")
    assert revised["revised_at"] is not None

    revisions = ok(client.get(f"{URL}/{notice['id']}/revisions", headers=reviewer))
    reviewer_id, publisher_id = staff_id(app, "reviewer"), staff_id(app, "publisher")
    assert [(r["number"], r["body"], r["comment"], r["edited_by"], r["reviewed_by"]) for r in revisions["items"]] \
        == [(1, DRAFT["body"], None, publisher_id, reviewer_id),
            (2, "更正：2月18日恢复办理。", "标题注明更正", staff_id(app, "editing-reviewer"), reviewer_id)]
    public = client.get(f"/mp/v1/notices/{notice['id']}").get_json()
    assert public["body"] == "更正：2月18日恢复办理。"
    assert [(r["number"], r["comment"]) for r in public["revisions"]] == [(2, "标题注明更正")]
    assert [i["id"] for i in client.get("/mp/v1/notices", query_string={"q": "恢复"}).get_json()["items"]] == [
        notice["id"]]
    # nothing changed: no revision
    same = ok(client.patch(f"{URL}/{notice['id']}", headers=publisher,
                           json={"body": "更正：2月18日恢复办理。", "comment": "再存一次",
                                 "expected_version": revised["version"]}))
    assert (same["revision"], same["version"], same["pending_revision"]) == (2, revised["version"], None)

    # a rejected revision is dropped; the published text stays
    again = ok(client.patch(f"{URL}/{notice['id']}", headers=publisher,
                            json={"body": "错误的更正", "comment": "再次更正", "expected_version": same["version"]}))
    assert "comment" in problem(act(client, reviewer, again, "reject"), 422)["errors"]
    dropped = ok(act(client, reviewer, again, "reject", comment="无需更正"))
    assert (dropped["status"], dropped["revision"], dropped["pending_revision"], dropped["body"]) == (
        "published", 2, None, "更正：2月18日恢复办理。")
    assert dropped["published_at"] == revised["published_at"]
    assert client.get(f"/mp/v1/notices/{notice['id']}").status_code == 200
    assert count_rows(app, "audit_records", action="notice.revision_proposed") == 3


def test_withdrawn_notices_leave_lists_and_answer_410(client: FlaskClient, login_as: Login) -> None:
    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    notice = ok(act(client, reviewer, ok(act(client, publisher, create(client, publisher), "submit")), "approve"))
    kept = ok(act(client, reviewer, ok(act(client, publisher, create(client, publisher, title="保留的通知"),
                                           "submit")), "approve"))

    assert "comment" in problem(act(client, publisher, notice, "withdraw"), 422)["errors"]
    withdrawn = ok(act(client, publisher, notice, "withdraw", comment="信息有误"))
    assert (withdrawn["status"], withdrawn["withdrawal_reason"]) == ("withdrawn", "信息有误")
    assert withdrawn["allowed_actions"] == []

    gone = problem(client.get(f"/mp/v1/notices/{notice['id']}"), 410)
    assert gone["withdrawn_at"]
    assert [i["id"] for i in client.get("/mp/v1/notices").get_json()["items"]] == [kept["id"]]
    assert [i["id"] for i in client.get("/mp/v1/notices", query_string={"q": "春节"}).get_json()["items"]] == [
        kept["id"]]
    assert client.get("/mp/v1/notices/nonexistent").status_code == 404
    problem(act(client, reviewer, withdrawn, "approve"), 409)


def test_stale_versions_and_illegal_actions_are_409(app: Flask, client: FlaskClient, login_as: Login) -> None:
    publisher = login_as("publisher")
    notice = create(client, publisher)
    ok(act(client, publisher, notice, "submit"))

    stale = problem(act(client, publisher, notice, "submit"), 409)  # version 1 read, now 2
    assert stale["current_version"] == 2
    current = ok(client.get(f"{URL}/{notice['id']}", headers=publisher))
    illegal = problem(act(client, publisher, current, "submit"), 409)
    assert illegal["allowed_actions"] == []
    if_match = client.patch(f"{URL}/{notice['id']}", json={"title": "新的标题"},
                            headers={**publisher, "If-Match": '"1"'})
    problem(if_match, 409)
    assert "expected_version" in problem(client.post(f"{URL}/{notice['id']}/actions", headers=publisher,
                                                     json={"action": "submit"}), 422)["errors"]
    assert count_rows(app, "audit_records", action="notice.submit") == 1


@pytest.mark.parametrize(("body", "field"), [
    ({**DRAFT, "category": "gossip"}, "category"),
    ({**DRAFT, "title": ""}, "title"),
    ({k: v for k, v in DRAFT.items() if k != "body"}, "body"),
    ({**DRAFT, "attachments": ["01notanattachment"]}, "attachments"),
    ({**DRAFT, "surprise": 1}, "surprise"),
])
def test_invalid_drafts_are_422(app: Flask, client: FlaskClient, login_as: Login, body: dict[str, Any],
                                field: str) -> None:
    assert field in problem(client.post(URL, json=body, headers=login_as("publisher")), 422)["errors"]
    assert count_rows(app, "notices") == 0


def test_bad_actions_and_queries(client: FlaskClient, login_as: Login) -> None:
    publisher = login_as("publisher")
    notice = create(client, publisher)
    assert "action" in problem(act(client, publisher, notice, "delete"), 422)["errors"]
    problem(client.post(f"{URL}/{notice['id']}/actions", data="x", headers=publisher), 415)
    problem(client.get(f"{URL}/nonexistent", headers=publisher), 404)
    assert "status" in problem(client.get(URL, query_string={"status": "lost"}, headers=publisher), 422)["errors"]
    problem(client.get(URL, query_string={"cursor": "bogus"}, headers=publisher), 400)


def test_console_list_filters_and_searches(client: FlaskClient, login_as: Login) -> None:
    publisher = login_as("publisher")
    lamp = create(client, publisher, title="城区路灯维修计划", category="public_notice")
    policy = create(client, publisher, title="关于促进民营经济发展的若干措施", category="policy")

    listing = ok(client.get(URL, headers=publisher))
    assert [i["id"] for i in listing["items"]] == [policy["id"], lamp["id"]]
    assert [i["id"] for i in ok(client.get(URL, query_string={"category": "policy"}, headers=publisher))["items"]] \
        == [policy["id"]]
    found = ok(client.get(URL, query_string={"q": "路灯"}, headers=publisher))
    assert [i["id"] for i in found["items"]] == [lamp["id"]]
    assert found["items"][0]["highlighted_title"] == "城区<mark>路灯</mark>维修计划"


def test_attachments_upload_attach_and_download(app: Flask, client: FlaskClient, login_as: Login) -> None:
    import io

    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    uploaded = client.post(f"{URL}/attachments", data={"file": (io.BytesIO(_png()), "示意图.png")},
                           headers=publisher, content_type="multipart/form-data")
    assert uploaded.status_code == 201, uploaded.get_json()
    attachment = uploaded.get_json()
    # another publisher cannot attach someone else's upload
    problem(client.post(URL, json={**DRAFT, "attachments": [attachment["id"]]}, headers=reviewer), 403)
    notice = create(client, publisher, attachments=[attachment["id"]])
    assert [a["filename"] for a in notice["attachments"]] == ["示意图.png"]
    url = f"/mp/v1/notices/{notice['id']}/attachments/{attachment['id']}"
    assert client.get(url).status_code == 404  # not public yet

    ok(act(client, reviewer, ok(act(client, publisher, notice, "submit")), "approve"))
    download = client.get(url)
    assert download.status_code == 200
    assert download.mimetype == "image/png"
    assert download.data == _png()
    download.close()
    assert client.get(f"/mp/v1/notices/{notice['id']}").get_json()["attachments"][0]["id"] == attachment["id"]
    problem(client.get(f"/mp/v1/notices/{notice['id']}/attachments/01unknown"), 404)


def _both_roles(app: Flask, client: FlaskClient, second_staff: Callable[[str, str], dict[str, str]],
                username: str) -> dict[str, str]:
    second_staff(username, "publisher")
    with app.app_context():
        account = db.session.execute(sa.select(Staff).where(Staff.username == username)).scalar_one()
        account_operations.update_staff(Actor(kind="system", id="system"), account.id,
                                        {"roles": ["publisher", "reviewer"]}, account.version)
        db.session.commit()
    return bearer(client.post("/console/v1/auth/login",
                              json={"username": username, "password": DEMO_PASSWORD}).get_json()["token"])


def test_a_reviewer_who_edited_the_draft_may_not_approve_it(
        app: Flask, client: FlaskClient, login_as: Login,
        second_staff: Callable[[str, str], dict[str, str]]) -> None:
    publisher = login_as("publisher")
    editor = _both_roles(app, client, second_staff, "editor-reviewer")
    draft = create(client, publisher)
    edited = ok(client.patch(f"{URL}/{draft['id']}", headers=editor,
                             json={"body": "春节期间暂停线下办理。", "expected_version": draft["version"]}))
    submitted = ok(act(client, publisher, edited, "submit"))

    assert "approve" not in ok(client.get(f"{URL}/{draft['id']}", headers=editor))["allowed_actions"]
    assert "another reviewer" in problem(act(client, editor, submitted, "approve"), 403)["detail"]
    assert ok(act(client, login_as("reviewer"), submitted, "approve"))["status"] == "published"


def test_only_the_author_or_an_editor_submits(app: Flask, client: FlaskClient, login_as: Login,
                                             second_staff: Callable[[str, str], dict[str, str]]) -> None:
    publisher = login_as("publisher")
    other = second_staff("other-publisher", "publisher")
    draft = create(client, publisher)

    assert ok(client.get(f"{URL}/{draft['id']}", headers=other))["allowed_actions"] == []
    assert "author" in problem(act(client, other, draft, "submit"), 403)["detail"]
    # having edited the draft, they answer for it too
    edited = ok(client.patch(f"{URL}/{draft['id']}", headers=other,
                             json={"body": "春节期间暂停线下办理。", "expected_version": draft["version"]}))
    assert edited["allowed_actions"] == ["submit"]
    assert ok(act(client, other, edited, "submit"))["status"] == "in_review"


def test_a_scheduled_notice_whose_time_came_is_published_for_every_action(
        app: Flask, client: FlaskClient, login_as: Login, monkeypatch: pytest.MonkeyPatch) -> None:
    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    publish_at = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    scheduled = ok(act(client, reviewer, ok(act(client, publisher, create(client, publisher), "submit")), "approve",
                       data={"publish_at": publish_at.isoformat()}))
    assert scheduled["revision"] == 0  # nothing public yet
    later = publish_at + timedelta(minutes=1)
    monkeypatch.setattr("service.notices.queries.utcnow", lambda: later)
    monkeypatch.setattr("service.notices.operations.utcnow", lambda: later)
    assert client.get(f"/mp/v1/notices/{scheduled['id']}").status_code == 200
    current = ok(client.get(f"{URL}/{scheduled['id']}", headers=reviewer))
    assert current["allowed_actions"] == ["withdraw"]

    refused = problem(act(client, reviewer, current, "reject", comment="暂缓发布"), 409)
    assert refused["allowed_actions"] == ["withdraw"]
    assert client.get(f"/mp/v1/notices/{scheduled['id']}").status_code == 200
    with app.app_context():
        notice = db.session.get(Notice, scheduled["id"])
        assert notice is not None
        assert (notice.status, notice.published_at) == ("scheduled", publish_at)  # the refusal changed nothing
    assert problem(act(client, reviewer, current, "publish"), 409)["allowed_actions"] == ["withdraw"]

    # a revision is possible (and waits for review), as for any published notice
    proposed = ok(client.patch(f"{URL}/{scheduled['id']}", headers=publisher,
                               json={"body": "更正的正文", "comment": "更正", "expected_version": current["version"]}))
    assert proposed["status"] == "published"
    assert proposed["revision"] == 1
    assert [h["action"] for h in proposed["history"]][-2:] == ["publish", "revise"]
    assert proposed["history"][-2]["actor_kind"] == "system"
    withdrawn = ok(act(client, reviewer, proposed, "withdraw", comment="信息有误"))
    assert withdrawn["status"] == "withdrawn"
    assert client.get(f"/mp/v1/notices/{scheduled['id']}").status_code == 410


def test_revision_1_is_the_text_that_became_public(app: Flask, client: FlaskClient, login_as: Login) -> None:
    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    later = (utcnow() + timedelta(days=1)).isoformat()
    scheduled = ok(act(client, reviewer, ok(act(client, publisher, create(client, publisher), "submit")), "approve",
                       data={"publish_at": later}))
    draft = ok(act(client, reviewer, scheduled, "reject", comment="日期有误"))
    edited = ok(client.patch(f"{URL}/{draft['id']}", headers=publisher,
                             json={"body": "春节期间暂停线下办理。", "expected_version": draft["version"]}))
    published = ok(act(client, reviewer, ok(act(client, publisher, edited, "submit")), "approve"))

    assert published["revision"] == 1
    revisions = ok(client.get(f"{URL}/{draft['id']}/revisions", headers=reviewer))["items"]
    assert [(r["number"], r["body"]) for r in revisions] == [(1, "春节期间暂停线下办理。")]

    # a scheduled notice published early: revision 1 when it is published
    early = ok(act(client, reviewer, ok(act(client, publisher, create(client, publisher), "submit")), "approve",
                   data={"publish_at": later}))
    assert ok(client.get(f"{URL}/{early['id']}/revisions", headers=reviewer))["items"] == []
    assert ok(act(client, reviewer, early, "publish"))["revision"] == 1


def test_withdrawn_before_its_time_is_never_known_to_the_public(
        client: FlaskClient, login_as: Login, monkeypatch: pytest.MonkeyPatch) -> None:
    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    publish_at = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    scheduled = ok(act(client, reviewer, ok(act(client, publisher, create(client, publisher), "submit")), "approve",
                       data={"publish_at": publish_at.isoformat()}))
    ok(act(client, reviewer, scheduled, "withdraw", comment="取消发布"))

    monkeypatch.setattr("service.notices.queries.utcnow", lambda: publish_at + timedelta(days=1))
    assert problem(client.get(f"/mp/v1/notices/{scheduled['id']}"), 404)
    assert client.get("/feeds/notices.json").get_json()["items"] == []
    assert "Last-Modified" not in client.get("/feeds/notices.json").headers


@pytest.mark.parametrize("field", ["title", "body", "summary"])
@pytest.mark.parametrize("char", ["\x00", "\x0b", "\x1f", "\x7f\x00"])
def test_control_characters_are_refused(app: Flask, client: FlaskClient, login_as: Login, field: str,
                                       char: str) -> None:
    publisher = login_as("publisher")
    errors = problem(client.post(URL, json={**DRAFT, field: f"停水{char}通知"}, headers=publisher), 422)["errors"]
    assert field in errors
    assert count_rows(app, "notices") == 0
    notice = create(client, publisher, body="第一段\n\n第二段\r\n\t缩进")  # tab, line feed, carriage return are fine
    assert field in problem(client.patch(f"{URL}/{notice['id']}", headers=publisher,
                                         json={field: f"停水{char}通知", "expected_version": 1}), 422)["errors"]
    assert "comment" in problem(client.patch(f"{URL}/{notice['id']}", headers=publisher,
                                             json={"title": "停水通知", "comment": f"更正{char}标题",
                                                   "expected_version": 1}), 422)["errors"]


def test_another_publishers_upload_is_an_unknown_attachment(
        app: Flask, client: FlaskClient, login_as: Login,
        second_staff: Callable[[str, str], dict[str, str]]) -> None:
    import io

    publisher = login_as("publisher")
    other = second_staff("other-publisher", "publisher")
    uploaded = client.post(f"{URL}/attachments", data={"file": (io.BytesIO(_png()), "示意图.png")},
                           headers=publisher, content_type="multipart/form-data")
    assert uploaded.status_code == 201
    theirs = uploaded.get_json()["id"]

    refused = problem(client.post(URL, json={**DRAFT, "attachments": [theirs]}, headers=other), 422)
    assert refused["errors"] == {"attachments": ["Unknown attachment."]}
    assert count_rows(app, "notices") == 0
    draft = create(client, other)
    refused = problem(client.patch(f"{URL}/{draft['id']}", headers=other,
                                   json={"attachments": [theirs], "expected_version": draft["version"]}), 422)
    assert refused["errors"] == {"attachments": ["Unknown attachment."]}


def test_attachment_downloads_are_not_cached_long_and_go_with_the_notice(client: FlaskClient,
                                                                        login_as: Login) -> None:
    import io

    publisher, reviewer = login_as("publisher"), login_as("reviewer")
    attachment = client.post(f"{URL}/attachments", data={"file": (io.BytesIO(_png()), "示意图.png")},
                             headers=publisher, content_type="multipart/form-data").get_json()
    notice = ok(act(client, reviewer, ok(act(client, publisher, create(client, publisher,
                                                                      attachments=[attachment["id"]]), "submit")),
                    "approve"))
    url = f"/mp/v1/notices/{notice['id']}/attachments/{attachment['id']}"
    download = client.get(url)
    assert download.status_code == 200
    cache_control = download.headers["Cache-Control"]
    download.close()
    assert "no-cache" in cache_control or "must-revalidate" in cache_control
    assert "public" not in cache_control

    ok(act(client, reviewer, notice, "withdraw", comment="附件有误"))
    gone = problem(client.get(url), 410)
    assert gone["withdrawn_at"]
