"""A small fixed history, made through the real operations at injected times, that the statistics and the
event-log exports are checked against (week of Monday 2 March 2026, Asia/Shanghai, no holidays)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask

from service.accounts.models import Department, Resident, Staff
from service.catalog.models import Service
from service.core.auth import Actor
from service.core.db import db
from service.requests import operations
from service.requests.models import Request

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=SHANGHAI)


@dataclass
class History:
    ids: dict[str, str]
    residents: dict[str, str]


class _Book:
    def __init__(self) -> None:
        self.staff: dict[str, Actor] = {}
        for staff in db.session.execute(sa.select(Staff)).scalars():
            self.staff[staff.username] = Actor(kind="staff", id=staff.id, department_id=staff.department_id,
                                               roles=frozenset(staff.roles))
        self.services = {s.code: s for s in db.session.execute(sa.select(Service)).scalars()}
        self.residents: dict[str, Actor] = {}

    def resident(self, name: str) -> Actor:
        if name not in self.residents:
            row = Resident(openid=f"o-history-{name}", name=f"居民{name}", phone="13800138000")
            db.session.add(row)
            db.session.flush()
            self.residents[name] = Actor(kind="resident", id=row.id)
        return self.residents[name]

    def submit(self, service: str, resident: str, when: datetime) -> str:
        return operations.submit(self.resident(resident), self.services[service], {}, {}, when).id

    def act(self, who: str, request_id: str, action: str, when: datetime, data: dict[str, Any] | None = None,
            comment: str | None = None) -> None:
        actor = self.residents[who] if who in self.residents else self.staff[who]
        version = db.session.get(Request, request_id).version
        operations.act(actor, request_id, action, comment, data or {}, version, at=when)


@pytest.fixture
def history(demo: Flask) -> History:
    """Seven requests (times local):

    r1 repair     Mon 2 09:00 submit; 11:00 accept (urban); Tue 3 09:00 complete — 24 h, on time; rated 5
    r2 repair     Mon 2 10:00 submit; 12:00 transfer to housing; Tue 3 10:00 accept (housing);
                  Mon 9 10:00 complete (urban) — 168 h, due Thu 5 23:59:59, 4 days late; rated 1
    r3 complaint  Tue 3 09:00 submit; 10:00 dispatch to urban; 14:00 request materials; Thu 5 14:00 supplement;
                  Fri 6 10:00 reply; 11:00 send back (centre); 15:00 reply; Mon 9 09:00 close — 144 h; rated 4
    r4 repair     Wed 4 09:00 submit, still at acceptance (due Mon 9 23:59:59)
    r5 repair     Wed 4 10:00 submit; 11:00 accept; still in repair (due Mon 9 23:59:59)
    r6 disclosure Mon 2 09:00 submit; 10:00 accept; 12:00 consult a third party; Wed 4 12:00 opinion;
                  Thu 5 12:00 reply — 75 h
    r7 repair     Thu 5 09:00 submit; 10:00 withdrawn
    """
    with demo.app_context():
        book = _Book()
        r1 = book.submit("repair", "a", at(2, 9))
        book.act("urban-handler", r1, "accept", at(2, 11))
        book.act("urban-handler", r1, "complete", at(3, 9))

        r2 = book.submit("repair", "b", at(2, 10))
        book.act("urban-handler", r2, "transfer", at(2, 12), {"department": "housing"}, "属住建局管辖")
        book.act("housing-handler", r2, "accept", at(3, 10))
        book.act("urban-handler", r2, "complete", at(9, 10))

        r3 = book.submit("complaint", "a", at(3, 9))
        book.act("service-center-handler", r3, "dispatch", at(3, 10), {"department": "urban"})
        book.act("urban-handler", r3, "request_materials", at(3, 14), {"items": ["现场照片"]})
        book.act("a", r3, "supplement", at(5, 14))
        book.act("urban-handler", r3, "reply", at(6, 10), {"answer": "已处理"})
        book.act("service-center-handler", r3, "send_back", at(6, 11), comment="居民不满意")
        book.act("urban-handler", r3, "reply", at(6, 15), {"answer": "已再次处理"})
        book.act("service-center-handler", r3, "close", at(9, 9), {"satisfied": True})

        r4 = book.submit("repair", "c", at(4, 9))
        r5 = book.submit("repair", "c", at(4, 10))
        book.act("urban-handler", r5, "accept", at(4, 11))

        r6 = book.submit("disclosure", "d", at(2, 9))
        book.act("gov-office-handler", r6, "accept", at(2, 10))
        book.act("gov-office-handler", r6, "consult_third_party", at(2, 12))
        book.act("gov-office-handler", r6, "record_opinion", at(4, 12))
        book.act("gov-office-handler", r6, "reply", at(5, 12), {"outcome": "public", "answer": "见附件"})

        r7 = book.submit("repair", "b", at(5, 9))
        book.act("b", r7, "withdraw", at(5, 10))

        operations.rate(book.resident("a"), r1, 5, None, [])
        operations.rate(book.resident("b"), r2, 1, "太慢", [])
        operations.rate(book.resident("a"), r3, 4, None, [])
        db.session.commit()
        assert db.session.get(Request, r2).due_at == at(5, 23).replace(minute=59, second=59)
        housing = db.session.execute(sa.select(Department.id).where(Department.code == "housing")).scalar_one()
        residents = {name: actor.id for name, actor in book.residents.items()}
        return History(ids={"r1": r1, "r2": r2, "r3": r3, "r4": r4, "r5": r5, "r6": r6, "r7": r7,
                            "housing": housing}, residents=residents)
