"""Feeds and Chinese full-text search of notices: feed requests per second with and without a conditional GET,
and search latency at 1,000 and 100,000 published notices, with the growth ratio between the two.

* Feeds: ``/feeds/notices.rss|atom|json`` through the app's WSGI test client (no network), in turns per format:
  a plain GET builds the feed (query of the latest 50 + feedgen/JSON); a conditional GET with the ETag of the
  previous answer gets a 304 without building anything. Both are timed over ``--feed-requests`` per format.
* Search: ``GET /mp/v1/notices?q=…&limit=20`` for a fixed set of queries (rare and common words, two-character
  words, a multi-word query, mixed Chinese and Latin, one that finds nothing), each ``--search-repeats`` times
  at each size; the median and 95th percentile per size, and the growth ratio of the medians.

The corpus is generated from a pool of sentences of district notices (deterministic); it is loaded into the
database directly (notices and their search documents, segmented exactly as the app indexes a notice: the whole
title, summary and body through ``operations.search_text`` and ``search.document_tokens``), which is not timed.
The last line printed is one JSON object of the figures.

    .venv/bin/python bench/notices.py                                 # SQLite, 1,000 and 100,000 notices
    .venv/bin/python bench/notices.py --sizes 1000,10000              # quicker
    scripts/with-postgres.sh .venv/bin/python bench/notices.py --database postgresql

PostgreSQL: the server named by ``CIVICDESK_TEST_DATABASE_URL`` (a scratch database is created on it and dropped
afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from scratch import postgresql_database, sqlite_database  # noqa: E402

from service import create_app, migrations  # noqa: E402
from service.accounts.models import Staff  # noqa: E402
from service.core import search  # noqa: E402
from service.core.db import db, new_id  # noqa: E402
from service.demo import load_demo  # noqa: E402
from service.notices import operations  # noqa: E402
from service.notices.models import CATEGORIES, Notice  # noqa: E402

POSTGRES_URL_VARIABLE = "CIVICDESK_TEST_DATABASE_URL"
PLACES = ["东城街道", "西湖社区", "南山镇", "北苑街道", "青云社区", "滨江街道", "城关镇", "新华社区", "长安街道",
          "和平社区", "高新区", "经开区", "临港片区", "老城区", "科学城"]
SUBJECTS = ["城乡居民医保参保缴费", "社会保险待遇资格认证", "住房公积金缴存基数调整", "流感疫苗接种安排",
            "事业单位公开招聘", "政府采购中标结果", "供水管网改造临时停水", "义务教育招生入学",
            "高龄老人养老服务补贴", "汛期防汛防台风", "高层建筑消防安全检查", "食品安全监督抽检",
            "不动产登记便民服务", "残疾人两项补贴", "空气质量监测", "重大活动交通管制", "个人所得税年度汇算",
            "年度征兵工作", "公共文化场馆开放", "农贸市场升级改造", "城区路灯集中维修", "夜间施工噪音管控",
            "5G基站建设规划", "营业执照办理流程", "厨余垃圾分类投放", "异地就医直接结算", "老旧小区改造",
            "电动自行车充电设施", "学校周边交通安全", "燃气安全隐患排查"]
SENTENCES = ["请相关单位和居民群众按照要求做好各项准备工作。", "具体事项可拨打12345政务服务便民热线咨询。",
             "本通知自发布之日起施行，此前规定与本通知不一致的，以本通知为准。",
             "各街道、社区要加强宣传引导，确保政策知晓率。", "办理时请携带本人身份证件及相关证明材料原件。",
             "逾期未办理的，将按有关规定处理。", "网上办理可通过政务服务小程序提交申请。",
             "工作时间为工作日上午9时至12时，下午14时至17时。", "对公示内容有异议的，可在公示期内以书面形式反映。",
             "改造期间给您带来的不便，敬请谅解。", "小区路灯不亮、井盖缺失等问题可随时报修。",
             "夜间22时至次日6时禁止产生噪音的施工作业。", "全区新建5G基站优先利用现有杆塔资源。",
             "营业执照全程网办，一日办结，不收取任何费用。", "厨余垃圾应沥干水分后投放至绿色收集容器。",
             "参保人员异地就医前可通过线上渠道办理备案。", "补贴资金由街道统一发放至本人社会保障卡。",
             "检查中发现的隐患须在规定期限内整改到位。", "交通管制期间请市民选择公共交通出行。",
             "本次抽检样品全部合格，抽检结果已录入监管系统。", "适龄儿童按学区划片入学。",
             "缴存基数上限按上年度职工月平均工资的三倍确定。", "图书馆、文化馆节假日照常开放，周一闭馆维护。",
             "应征青年须在网上完成兵役登记并参加体格检查。", "各单位落实值班值守制度，低洼地带做好人员转移准备。"]
QUERIES = ["路灯", "噪音", "5G基站", "营业执照办理", "医保 异地就医", "老旧小区改造", "补贴", "身份证", "量子计算"]


def _tokens(title: str, summary: str | None, body: str) -> tuple[str, str]:
    """Exactly what production indexes (``operations._reindex``): the whole body at once, never piecewise,
    since jieba's segmentation depends on the text around a sentence's edges."""
    return search.document_tokens(*operations.search_text(title, summary, body))


def _notice(rng: random.Random, n: int) -> tuple[str, list[str]]:
    place, subject = rng.choice(PLACES), rng.choice(SUBJECTS)
    title = f"关于{place}{subject}的通知"
    body = [f"{place}{subject}相关事项通知如下。", *rng.sample(SENTENCES, rng.randint(3, 6)), f"（第{n}号）"]
    return title, body


def load(app: Flask, start: int, stop: int, author_id: str) -> float:
    """Notices ``start``…``stop - 1``, published, with their search documents; returns the seconds it took."""
    began = time.perf_counter()
    rng = random.Random(start)
    first = datetime(2020, 1, 1, tzinfo=UTC)
    notices_table: sa.Table = Notice.__table__  # type: ignore[assignment]
    documents_table: sa.Table = search.SearchDocument.__table__  # type: ignore[assignment]
    with app.app_context():
        batch_notices: list[dict[str, Any]] = []
        batch_documents: list[dict[str, Any]] = []
        for n in range(start, stop):
            title, sentences = _notice(rng, n)
            at = first + timedelta(minutes=30 * n)
            notice_id = new_id()
            batch_notices.append({
                "id": notice_id, "title": title, "summary": None, "body": "".join(sentences),
                "category": CATEGORIES[n % len(CATEGORIES)], "status": "published", "attachments": [],
                "department_id": None, "author_id": author_id, "contributors": [author_id], "revision": 1,
                "history": [], "version": 3, "created_at": at, "updated_at": at, "published_at": at,
                "reviewed_at": at})
            title_tokens, body_tokens = _tokens(title, None, "".join(sentences))
            batch_documents.append({
                "kind": "notice", "object_id": notice_id, "title_tokens": title_tokens,
                "body_tokens": body_tokens, "updated_at": at})
            if len(batch_notices) == 2000 or n == stop - 1:
                db.session.execute(notices_table.insert(), batch_notices)
                db.session.execute(documents_table.insert(), batch_documents)
                db.session.commit()
                batch_notices, batch_documents = [], []
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
    return time.perf_counter() - began


def feeds(app: Flask, requests: int) -> dict[str, float]:
    client = app.test_client()
    figures: dict[str, float] = {}
    for kind in ("rss", "atom", "json"):
        url = f"/feeds/notices.{kind}"
        etag = client.get(url).headers["ETag"]
        began = time.perf_counter()
        for _ in range(requests):
            response = client.get(url)
            assert response.status_code == 200
        figures[f"{kind}_rps"] = requests / (time.perf_counter() - began)
        began = time.perf_counter()
        for _ in range(requests):
            response = client.get(url, headers={"If-None-Match": etag})
            assert response.status_code == 304
        figures[f"{kind}_conditional_rps"] = requests / (time.perf_counter() - began)
    return figures


def searches(app: Flask, repeats: int) -> dict[str, Any]:
    client = app.test_client()
    timings: list[float] = []
    per_query: dict[str, float] = {}
    for q in QUERIES:
        client.get("/mp/v1/notices", query_string={"q": q, "limit": 20})  # warm
        mine = []
        for _ in range(repeats):
            began = time.perf_counter()
            response = client.get("/mp/v1/notices", query_string={"q": q, "limit": 20})
            mine.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200
        per_query[q] = round(statistics.median(mine), 2)
        timings.extend(mine)
    timings.sort()
    return {"median_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2), "per_query_median_ms": per_query}


def measure(database: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}, "testing")
    migrations.upgrade(app)
    with app.app_context():
        load_demo("bench-password-not-used")
        db.session.commit()
        author_id = db.session.execute(sa.select(Staff.id).where(Staff.username == "publisher")).scalar_one()
    results: dict[str, Any] = {"search": {}}
    loaded = 0
    for size in args.sizes:
        seconds = load(app, loaded, size, author_id)
        print(f"[{database}] loaded {size - loaded} notices in {seconds:.1f} s (now {size})", flush=True)
        loaded = size
        if size == args.sizes[0]:
            results["feeds"] = feeds(app, args.feed_requests)
            print(f"[{database}] feeds at {size} notices: " + ", ".join(
                f"{k} {v:.0f}/s" for k, v in results["feeds"].items()), flush=True)
        results["search"][str(size)] = searches(app, args.search_repeats)
        figures = results["search"][str(size)]
        print(f"[{database}] search at {size} notices: median {figures['median_ms']} ms, p95 {figures['p95_ms']} ms; "
              f"per query {figures['per_query_median_ms']}", flush=True)
    small, large = (results["search"][str(s)]["median_ms"] for s in (args.sizes[0], args.sizes[-1]))
    results["search_growth"] = round(large / small, 2)
    print(f"[{database}] search latency grows {results['search_growth']}× from {args.sizes[0]} to "
          f"{args.sizes[-1]} notices ({args.sizes[-1] // args.sizes[0]}× the notices)", flush=True)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000",
                        help="comma-separated corpus sizes, ascending (default 1000,100000)")
    parser.add_argument("--feed-requests", type=int, default=300, help="requests per feed format and mode")
    parser.add_argument("--search-repeats", type=int, default=15, help="times each query runs per size")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if args.sizes != sorted(args.sizes) or args.sizes[0] < 1 or min(args.feed_requests, args.search_repeats) < 1:
        parser.error("--sizes must be ascending and positive; --feed-requests and --search-repeats positive")
    os.environ.setdefault("CIVICDESK_ENV", "testing")
    if args.database == "sqlite":
        with sqlite_database() as url:
            results = measure("sqlite", url, args)
    else:
        server = os.environ.get(POSTGRES_URL_VARIABLE)
        if not server:
            raise SystemExit(f"set {POSTGRES_URL_VARIABLE}, or run through scripts/with-postgres.sh")
        with postgresql_database(server, "civicdesk_bench_notices") as url:
            results = measure("postgresql", url, args)
    print(json.dumps({"benchmark": "notices", "database": args.database, "sizes": args.sizes,
                      "results": results}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
