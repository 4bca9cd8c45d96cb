"""Chinese segmentation for the full-text index: what is indexed, how a query is read, snippets."""

from __future__ import annotations

from service.core import search


def test_two_character_words_are_indexed_even_where_jieba_splits_them() -> None:
    tokens = search.index_tokens("小区路灯不亮")

    assert "路灯" in tokens  # jieba's search mode gives 小区 / 路 / 灯不亮
    assert {"小区", "灯不亮", "不亮", "路", "灯"} <= set(tokens)


def test_latin_and_full_width_text_is_normalised() -> None:
    assert search.index_tokens("５Ｇ基站 WiFi") == ["5g", "基", "站", "基站", "基站", "wifi"]


def test_queries_are_words_whose_bigrams_must_all_occur() -> None:
    query = search.parse_query("营业执照办理")

    assert query.words == ("营业执照", "办理")
    assert query.terms == ("营业", "业执", "执照", "办理")  # never the cross-word 照办


def test_question_words_are_dropped_but_a_query_of_only_those_keeps_them() -> None:
    assert search.parse_query("路灯坏了怎么办").words == ("路灯", "坏")
    assert search.parse_query("怎么办").words == ("怎么办",)


def test_punctuation_alone_is_no_query() -> None:
    assert search.parse_query("%%！").terms == ()


def test_latin_terms_match_as_prefixes_chinese_terms_whole() -> None:
    query = search.parse_query("park 噪音")

    assert query.is_prefix("park")
    assert not query.is_prefix("噪音")


def test_snippets_escape_html_and_mark_the_words() -> None:
    text = "为减少<夜间>噪音扰民，" + "施工单位须遵守规定。" * 20 + "夜间施工噪音投诉请拨打12345。"

    snippet = search.snippet(text, ("噪音", "投诉"), width=40)

    assert "&lt;夜间&gt;" not in snippet  # the best window is the one with both words, at the end
    assert snippet.startswith("…")
    assert "<mark>投诉</mark>" in snippet
    assert "<mark>噪音</mark>" in snippet
    assert search.highlight("Ａ&B 路灯", ("路灯", "a")) == "<mark>Ａ</mark>&amp;B <mark>路灯</mark>"
    assert search.snippet("短文本<b>", ()) == "短文本&lt;b&gt;"
