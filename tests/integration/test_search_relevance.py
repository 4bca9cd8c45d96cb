"""Chinese full-text search over a corpus of 230 notices: known queries find the expected notices first, with the
same results in the same order on SQLite (FTS5) and PostgreSQL (tsvector + GIN), stable pages while the index
changes; the public Q&A is searched the same way."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.accounts.models import Department, Staff
from service.core import search
from service.core.auth import Actor
from service.core.db import db, utcnow
from service.core.ratelimit import limiter
from service.notices import operations, queries
from service.notices.models import Notice
from tests.conftest import DEMO_PASSWORD, _empty_tables

PLACES = ["东城街道", "西湖社区", "南山镇", "北苑街道", "青云社区",
          "滨江街道", "城关镇", "新华社区", "长安街道", "和平社区"]
TOPICS = [
    ("医保", "城乡居民医保参保缴费", "请参保人员在规定期限内通过线上渠道完成缴费，逾期将影响待遇享受。"),
    ("社保", "社会保险待遇资格认证", "退休人员可通过手机完成资格认证，无需前往窗口。"),
    ("公积金", "住房公积金缴存基数调整", "缴存基数上限按上年度职工月平均工资的三倍确定。"),
    ("疫苗", "秋冬季流感疫苗接种安排", "接种点设在各社区卫生服务中心，请携带身份证件预约。"),
    ("招聘", "事业单位公开招聘工作人员", "报名采取网上报名方式，资格审查贯穿招聘全过程。"),
    ("采购", "政府采购项目中标结果公示", "公示期为一个工作日，对结果有异议的可书面提出质疑。"),
    ("停水", "供水管网改造临时停水", "停水期间请居民提前储水，恢复供水后水质可能短暂浑浊。"),
    ("招生", "义务教育阶段学校招生入学", "适龄儿童按学区划片入学，随迁子女凭居住证登记。"),
    ("养老", "高龄老人养老服务补贴发放", "年满八十周岁的老人每月可领取补贴，由街道统一发放。"),
    ("防汛", "汛期防汛防台风工作部署", "各单位落实值班值守制度，低洼地带做好人员转移准备。"),
    ("消防", "高层建筑消防安全专项检查", "检查重点为疏散通道、消防设施和电动自行车违规充电。"),
    ("食品", "食品安全监督抽检信息公告", "本次抽检样品全部合格，抽检结果已录入监管系统。"),
    ("不动产", "不动产登记便民服务举措", "推行交房即交证，材料齐全的当场受理。"),
    ("残疾人", "残疾人两项补贴标准调整", "困难残疾人生活补贴和重度残疾人护理补贴同步提高。"),
    ("环境", "空气质量监测月报", "本月空气质量优良天数比例同比上升，主要污染物为细颗粒物。"),
    ("交通", "重大活动期间交通管制", "管制期间禁止机动车通行，请市民选择公共交通出行。"),
    ("税务", "个人所得税年度汇算办理", "纳税人可通过个人所得税应用程序自行办理年度汇算。"),
    ("征兵", "年度征兵工作通告", "应征青年须在网上完成兵役登记并参加体格检查。"),
    ("文旅", "公共文化场馆开放时间调整", "图书馆、文化馆节假日照常开放，周一闭馆维护。"),
    ("市场", "农贸市场升级改造", "改造期间设置临时疏解点，保障居民日常采购需求。"),
]
CATEGORIES = ["announcement", "policy", "interpretation", "public_notice"]

# (key, title, body, category): the notices the queries below are about, among the generated ones
KNOWN = [
    ("lamps", "关于城区路灯集中维修的公告",
     "近期将对城区主干道路灯进行集中维修，维修期间部分路段路灯暂停照明。", "announcement"),
    ("lamp-complaint", "关于居民反映问题办理情况的通报",
     "青云社区居民反映小区路灯不亮，已于三日内修复。", "public_notice"),
    ("lamp-budget", "城市照明设施年度预算说明", "照明设施预算包括路灯更换、景观照明和线路改造。", "policy"),
    ("noise", "关于加强夜间施工噪音管控的通告",
     "夜间22时至次日6时禁止产生噪音的施工作业，噪音投诉请拨打12345。", "announcement"),
    ("noise-mention", "建筑工地文明施工规定", "施工单位应采取降尘、降噪措施，避免噪音扰民。", "policy"),
    ("5g", "5G基站建设专项规划公示", "本规划确定了全区5G基站布局，新建基站优先利用现有杆塔资源。", "public_notice"),
    ("license", "关于营业执照办理流程的政策解读",
     "申请人可在政务服务中心办理营业执照，全程网办一日办结。营业执照办理无需费用。",
     "interpretation"),
    ("kitchen", "厨余垃圾分类投放指引",
     "厨余垃圾应沥干水分后投放至绿色收集容器，投放时间为早晚两个时段。", "announcement"),
    ("medical", "异地就医直接结算备案指南",
     "参加医保的居民异地就医前可通过线上渠道办理备案，备案后直接结算。", "interpretation"),
]
QUERIES: list[tuple[str, list[str], set[str]]] = [
    # query, the notices expected first (in this order), and every notice expected at all
    ("路灯", ["lamps", "lamp-budget", "lamp-complaint"], {"lamps", "lamp-complaint", "lamp-budget"}),
    ("小区路灯不亮", ["lamp-complaint"], {"lamp-complaint"}),
    ("噪音", ["noise", "noise-mention"], {"noise", "noise-mention"}),
    ("照明", ["lamp-budget", "lamps"], {"lamp-budget", "lamps"}),
    ("夜间噪音", ["noise"], {"noise"}),
    ("5G基站", ["5g"], {"5g"}),
    ("５ｇ", ["5g"], {"5g"}),
    ("营业执照办理", ["license"], {"license"}),
    ("办理营业执照", ["license"], {"license"}),
    ("厨余垃圾", ["kitchen"], {"kitchen"}),
    ("医保 异地就医", ["medical"], {"medical"}),
    ("路灯坏了怎么办", [], set()),  # 坏 is in no notice
]


def _corpus() -> Iterator[tuple[str, str, str, str]]:
    rng = random.Random(20261125)
    for key, title, body, category in KNOWN:
        yield key, title, body, category
    for n in range(221):
        short, title, body = TOPICS[n % len(TOPICS)]
        place = rng.choice(PLACES)
        extra = TOPICS[rng.randrange(len(TOPICS))][2]
        yield (f"generated-{n}", f"{place}{title}的通知（第{n + 1}期）",
               f"{place}：{body}{extra}相关{short}事项详见附件。",
               rng.choice(CATEGORIES))


@pytest.fixture(scope="module")
def app(settings: dict[str, Any], migrated: None) -> Iterator[Flask]:
    """One application for the module: the corpus is built once (loading it is the slow part). The tests that
    change it come last and leave the public search results as they were."""
    app = create_app(settings, "testing")
    limiter.reset()
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


@pytest.fixture(scope="module")
def demo(app: Flask) -> Flask:
    from service.demo import load_demo

    with app.app_context():
        load_demo(DEMO_PASSWORD)
        db.session.commit()
    return app


@pytest.fixture(scope="module")
def corpus(app: Flask, demo: Flask) -> dict[str, str]:
    """The corpus, published an hour apart (the known ones oldest): key -> notice id."""
    with app.app_context():
        office = db.session.execute(sa.select(Department).where(Department.code == "gov-office")).scalar_one()
        author_id = db.session.execute(sa.select(Staff.id).where(Staff.username == "publisher")).scalar_one()
        author = Actor(kind="staff", id=author_id, department_id=office.id, roles=frozenset({"publisher"}))
        start = utcnow() - timedelta(days=30)
        ids = {}
        for n, (key, title, body, category) in enumerate(_corpus()):
            notice = operations.create(author, title, body, category, at=start)
            notice.status, notice.published_at, notice.revision = "published", start + timedelta(hours=n), 1
            ids[key] = notice.id
        db.session.commit()
        assert db.session.execute(sa.select(sa.func.count()).select_from(Notice)).scalar_one() >= 200
    return ids


def _reviewer(app: Flask) -> Actor:
    with app.app_context():
        return Actor(kind="staff", id=db.session.execute(
            sa.select(Staff.id).where(Staff.username == "reviewer")).scalar_one(), roles=frozenset({"reviewer"}))


def _search(client: FlaskClient, q: str, **params: Any) -> dict[str, Any]:
    response = client.get("/mp/v1/notices", query_string={"q": q, "limit": 100, **params})
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def test_known_queries_find_the_expected_notices_first(client: FlaskClient, corpus: dict[str, str]) -> None:
    key_of = {notice_id: key for key, notice_id in corpus.items()}

    for q, first, expected in QUERIES:  # one corpus for all: loading it is the slow part
        body = _search(client, q)

        found = [key_of[item["id"]] for item in body["items"]]
        assert found[:len(first)] == first, q
        assert set(found) == expected, q
        assert body["q"] == q
        if expected:
            assert body["message"] is None, q
        else:
            assert "没有找到" in body["message"], q


def test_common_words_rank_titles_first_and_page_without_repeats(client: FlaskClient,
                                                                corpus: dict[str, str]) -> None:
    everything = _search(client, "医保")["items"]
    titled = [i for i in everything if "医保" in i["title"]]
    assert len(everything) > len(titled) > 5
    assert everything[:len(titled)] == titled  # every notice with the word in its title comes first

    seen: list[str] = []
    cursor = None
    while True:
        page = _search(client, "医保", limit=7, **({"cursor": cursor} if cursor else {}))
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [item["id"] for item in everything]


def test_highlights_and_category_filter(client: FlaskClient, corpus: dict[str, str]) -> None:
    item = _search(client, "路灯")["items"][0]
    assert item["highlighted_title"] == "关于城区<mark>路灯</mark>集中维修的公告"
    assert item["snippet"].count("<mark>路灯</mark>") == 2
    assert [i["id"] for i in _search(client, "路灯", category="policy")["items"]] == [corpus["lamp-budget"]]


def _reference_order(corpus: dict[str, str], q: str) -> list[str]:
    """The keys a query finds, in the documented order, computed here from the text alone: per query term,
    TITLE_WEIGHT × its occurrences among the title's tokens plus those among the body's; then the newest id."""
    query = search.parse_query(q)

    def count(tokens: list[str], term: str) -> int:
        return sum(1 for t in tokens if (t.startswith(term) if query.is_prefix(term) else t == term))

    scores = {}
    for key, title, body, _category in _corpus():
        title_tokens, body_tokens = search.index_tokens(title), search.index_tokens(body)
        if query.terms and all(count(title_tokens + body_tokens, term) for term in query.terms):
            scores[key] = sum(search.TITLE_WEIGHT * count(title_tokens, term) + count(body_tokens, term)
                              for term in query.terms)
    return sorted(scores, key=lambda key: (scores[key], corpus[key]), reverse=True)


def test_the_order_is_the_same_on_every_database(client: FlaskClient, corpus: dict[str, str]) -> None:
    """Every result, in order, as the formula gives it: SQLite and PostgreSQL compute the same score."""
    key_of = {notice_id: key for key, notice_id in corpus.items()}

    for q in [*(q for q, _first, _expected in QUERIES), "医保", "补贴", "公积金", "资格认证", "施工", "5g"]:
        found = [key_of[item["id"]] for item in _search(client, q)["items"]]
        assert found == _reference_order(corpus, q), q


def test_pages_neither_skip_nor_repeat_while_the_index_changes(app: Flask, client: FlaskClient,
                                                              corpus: dict[str, str]) -> None:
    everything = [item["id"] for item in _search(client, "补贴")["items"]]
    assert len(everything) > 20
    with app.app_context():
        author = Actor(kind="staff", id=db.session.get(Notice, corpus["lamps"]).author_id,  # type: ignore[union-attr]
                       roles=frozenset({"publisher"}))
    added: list[str] = []
    seen: list[str] = []
    cursor = None
    for page_number in range(100):
        page = _search(client, "补贴", limit=5, **({"cursor": cursor} if cursor else {}))
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # between pages, other documents are indexed: drafts with and without the word (which moved every
        # BM25 score, and so the cursor's place, before the score depended on its own document alone)
        with app.app_context():
            for n in range(8):
                text = "困难群众临时补贴" if (page_number + n) % 2 else "城区道路清扫保洁"
                added.append(operations.create(author, f"草稿{page_number}-{n}", text * (n + 1),
                                               "announcement").id)
            db.session.commit()
    assert seen == everything
    with app.app_context():  # the drafts go: the later tests read the corpus as it was
        for notice_id in added:
            search.remove(operations.SEARCH_KIND, notice_id)
        db.session.execute(sa.delete(Notice).where(Notice.id.in_(added)))
        db.session.commit()


def test_the_index_follows_edits_in_the_same_transaction(app: Flask, client: FlaskClient,
                                                        corpus: dict[str, str]) -> None:
    def found(q: str) -> list[str]:
        return [view.id for view in queries.public_page(q, None, None, 100).items]

    reviewer = _reviewer(app)
    with app.app_context():
        notice = db.session.get(Notice, corpus["kitchen"])
        assert notice is not None
        author = Actor(kind="staff", id=notice.author_id, roles=frozenset({"publisher"}))
        original = notice.body
        operations.edit(author, notice.id, {"body": "可回收物投放指引已更新。"}, "改为可回收物", notice.version)
        assert found("可回收物") == []  # a revision waiting for review is not what the public reads
        operations.act(reviewer, notice.id, "approve", None, {}, notice.version)
        assert found("可回收物") == [notice.id]  # the transaction sees its own index change
        db.session.rollback()
        assert found("可回收物") == []
        assert found("沥干水分") == [notice.id]
        notice = db.session.get(Notice, corpus["kitchen"])
        assert notice is not None
        operations.edit(author, notice.id, {"body": "可回收物投放指引已更新。"}, "改为可回收物", notice.version)
        operations.act(reviewer, notice.id, "approve", None, {}, notice.version)
        db.session.commit()
    assert [i["id"] for i in _search(client, "可回收物")["items"]] == [corpus["kitchen"]]
    assert _search(client, "沥干水分")["items"] == []
    with app.app_context():  # back as it was, for the tests after this one
        notice = db.session.get(Notice, corpus["kitchen"])
        assert notice is not None
        operations.edit(author, notice.id, {"body": original}, "恢复", notice.version)
        operations.act(reviewer, notice.id, "approve", None, {}, notice.version)
        db.session.commit()
    assert _search(client, "沥干水分")["items"][0]["id"] == corpus["kitchen"]


def test_the_search_uses_the_full_text_index(app: Flask, corpus: dict[str, str]) -> None:
    """FTS5's index on SQLite; the GIN index on PostgreSQL (found even with sequential scans priced out)."""
    from service.core import search

    with app.app_context():
        found = search.matches(operations.SEARCH_KIND, search.parse_query("路灯 维修"))
        compiled = sa.select(found).compile(db.engine, compile_kwargs={"literal_binds": True})
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text("ANALYZE search_documents"))
            # In a table this small the planner prefers any btree; without one (dropped inside this transaction,
            # which is rolled back) and with sequential scans priced out, it must find the GIN index: proof that
            # the query's expression is the index's.
            db.session.execute(sa.text("ALTER TABLE search_documents "
                                       "DROP CONSTRAINT uq_search_documents_object_id_kind"))
            db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(db.session.execute(sa.text(f"EXPLAIN {compiled}")).scalars())
            db.session.rollback()
            assert "ix_search_documents_tsv" in plan, plan
        else:
            plan = " ".join(str(row[-1]) for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}")))
            assert "search_documents_fts VIRTUAL TABLE INDEX" in plan, plan


def test_reindex_rebuilds_a_lost_index(app: Flask, client: FlaskClient, corpus: dict[str, str]) -> None:
    from service.consultations import operations as consultation_operations
    from service.core.search import SearchDocument

    with app.app_context():
        db.session.execute(sa.delete(SearchDocument))
        db.session.commit()
    assert _search(client, "路灯")["items"] == []

    with app.app_context():
        assert operations.reindex_all(batch=100) == len(corpus)
        assert consultation_operations.reindex_published() == 0
        db.session.commit()
    assert [i["id"] for i in _search(client, "路灯")["items"]][:1] == [corpus["lamps"]]
