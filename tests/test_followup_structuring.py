"""Structuring of voice follow-ups and talk-track matching, on the shipped knowledge base."""

from dataclasses import dataclass
from datetime import date

import pytest

from core.followup_structuring import (
    Intent,
    LifeStage,
    ProductDictionary,
    ProductDictionaryError,
    convert_numerals,
    join_words,
    life_stage_for_age,
    parse_chinese_number,
    structure_followup,
)
from core.talk_tracks import (
    ExclusionReason,
    KnowledgeBaseError,
    MemberFacts,
    TermKind,
    TermSource,
    load_knowledge_base,
    parse_talk_tracks,
    suggest_talk_tracks,
)

# A Wednesday.
TODAY = date(2026, 12, 2)


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge_base()


@dataclass(frozen=True)
class Case:
    transcript: str
    text: str
    age: int | None = None
    stage: LifeStage | None = None
    products: tuple[str, ...] = ()
    intent: Intent | None = None
    days: int | None = None
    approximate: bool = False


CASES = {
    "example": Case("宝宝 六 个 月 想 了解 dha 补充剂", "宝宝6个月想了解DHA补充剂", 6, LifeStage.INFANT, ("dha",), Intent.ENQUIRY),
    "words untouched": Case("等 一下 十分 满意 一些 一起 一定 要", "等一下十分满意一些一起一定要"),
    "一点 一样 一直": Case("一点 一样 一直 这样", "一点一样一直这样"),
    "一岁半": Case("孩子 一 岁 半 了", "孩子1岁半了", 18, LifeStage.TODDLER),
    "两岁": Case("宝宝 两 岁 乳铁 蛋白 有没有", "宝宝2岁乳铁蛋白有没有", 24, LifeStage.TODDLER, ("lactoferrin",), Intent.ENQUIRY),
    "十个月": Case("宝宝 十 个 月 了", "宝宝10个月了", 10, LifeStage.INFANT),
    "十一个月": Case("十一 个 月 的 宝宝 便秘", "11个月的宝宝便秘", 11, LifeStage.INFANT),
    "一岁零三个月": Case("宝宝 一 岁 零 三 个 月", "宝宝1岁零3个月", 15, LifeStage.TODDLER),
    "两岁三个月": Case("宝宝 今年 两 岁 三 个 月", "宝宝今年2岁3个月", 27, LifeStage.TODDLER),
    "半岁": Case("宝宝 半 岁 了", "宝宝半岁了", 6, LifeStage.INFANT),
    "一岁多": Case("宝宝 一 岁 多", "宝宝1岁多", 12, LifeStage.TODDLER, approximate=True),
    "六个多月": Case("宝宝 六 个 多 月", "宝宝6个多月", 6, LifeStage.INFANT, approximate=True),
    "七八个月": Case("七八 个 月 宝宝 加 辅食", "7-8个月宝宝加辅食", 7, LifeStage.INFANT, ("complementary_food",), approximate=True),
    "八个月大": Case("八 个 月 大 不 爱 喝 奶", "8个月大不爱喝奶", 8, LifeStage.INFANT),
    "出生三周": Case("宝宝 出生 三 周", "宝宝出生3周", 0, LifeStage.NEWBORN),
    "满月": Case("宝宝 满月 了", "宝宝满月了", 1, LifeStage.INFANT),
    "三周后": Case("三 周 后 再 来", "3周后再来", days=21),
    "三天后": Case("三 天 后 过来 买 奶粉", "3天后过来买奶粉", products=("formula",), intent=Intent.PURCHASE, days=3),
    "一两天内": Case("一两 天 内 回访", "1-2天内回访", days=1),
    "明天": Case("明天 再 联系", "明天再联系", days=1),
    "下周": Case("下 周 带 宝宝 来", "下周带宝宝来", days=7),
    "下周三": Case("下 周 三 再 来", "下周三再来", days=7),
    "周末": Case("周末 带 宝宝 过来", "周末带宝宝过来", days=3),
    "一个月后": Case("一 个 月 后 再 来 看看", "1个月后再来看看", days=30),
    "不是年龄的时长": Case("喝 了 三 个 月 的 奶粉", "喝了3个月的奶粉", products=("formula",)),
    "三天没拉": Case("宝宝 三 天 没 拉 了", "宝宝3天没拉了"),
    "三岁以上": Case("这 款 奶粉 三 岁 以上 喝", "这款奶粉3岁以上喝", products=("formula",)),
    "妈妈的年龄": Case("宝妈 三十 岁", "宝妈30岁"),
    "怀孕": Case("怀孕 七 个 月 想 买 d h a", "怀孕7个月想买DHA", None, LifeStage.PREGNANCY, ("dha",), Intent.PURCHASE),
    "没有时间信息": Case("宝宝 十 个 月 想 买 米粉", "宝宝10个月想买米粉", 10, LifeStage.INFANT, ("rice_cereal",), Intent.PURCHASE, None),
    "两种产品": Case("宝宝 八 个 月 dha 和 益生菌 都 想 要", "宝宝8个月DHA和益生菌都想要", 8, LifeStage.INFANT, ("dha", "probiotics"), Intent.PURCHASE),
    "英文产品名大小写": Case("Dha 还是 dHA 藻油 dha", "DHA还是DHA藻油DHA", products=("dha",)),
    "拼读字母": Case("想 了解 h m o", "想了解HMO", products=("prebiotics",), intent=Intent.ENQUIRY),
    "两个拉丁词": Case("vitamin d 还是 hmo", "vitamin d还是HMO", products=("prebiotics",)),
    "全角字母": Case("ＤＨＡ 滴剂", "DHA滴剂", products=("dha",)),
    "奶粉段数": Case("宝宝 要 换 二 段 奶粉 了", "宝宝要换二段奶粉了", products=("formula",)),
    "一段时间不是段数": Case("宝宝 这 一段 时间 便秘", "宝宝这一段时间便秘"),
    "纸尿裤尺码": Case("纸尿裤 要 xl 码 的", "纸尿裤要XL码的", products=("diapers",)),
    "复购": Case("上次 买 的 纸尿裤 快 用 完 了 再 拿 两 包 l 码", "上次买的纸尿裤快用完了再拿2包L码", products=("diapers",), intent=Intent.REPURCHASE),
    "比价": Case("这个 太 贵 了 网上 便宜", "这个太贵了网上便宜", intent=Intent.PRICE_COMPARISON),
    "投诉": Case("买 了 十分钟 就 坏 了 要 退货", "买了10分钟就坏了要退货", intent=Intent.COMPLAINT),
    "否定购买": Case("不 想 买 只是 问问", "不想买只是问问", intent=Intent.ENQUIRY),
    "再来一次不是购买": Case("下 周 再 来 一 次", "下周再来1次", intent=None, days=7),
    "羊奶粉不是奶粉": Case("羊奶粉 有 吗", "羊奶粉有吗", products=("goat_formula",)),
    "空字符串": Case("", ""),
    "只有空格": Case("   \t ", ""),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_structuring_table(case: Case, knowledge):
    result = structure_followup(case.transcript, knowledge.products, today=TODAY)

    assert result.text == case.text
    assert result.baby_age_months == case.age
    assert result.age_is_approximate == case.approximate
    assert result.life_stage == case.stage
    assert result.product_ids == case.products
    assert result.intent == case.intent
    assert result.followup_in_days == case.days


def test_evidence_spans_index_cleaned_text(knowledge):
    result = structure_followup("宝宝 六 个 月 想 了解 dha 补充剂 明天 再 来", knowledge.products, today=TODAY)

    for field_name, spans in result.evidence.items():
        for span in spans:
            assert result.text[span.start:span.end] == span.text, field_name
    assert result.evidence["baby_age_months"][0].text == "6个月"
    assert result.evidence["products"][0].text == "DHA"
    assert result.evidence["intent"][0].text == "了解"
    assert result.evidence["followup_in_days"][0].text == "明天"


def test_variant_attaches_to_named_product(knowledge):
    result = structure_followup("宝宝 要 换 二 段 奶粉 了", knowledge.products, today=TODAY)

    assert result.products[0].variant == "二段"
    assert [span.text for span in result.products[0].spans] == ["二段奶粉"]


def test_quantities_extracted(knowledge):
    result = structure_followup("每 次 冲 两百 毫升 要 两 罐", knowledge.products, today=TODAY)

    assert [(quantity.value, quantity.unit) for quantity in result.quantities] == [(200, "毫升"), (2, "罐")]
    assert result.text == "每次冲200毫升要2罐"


def test_allergy_needs_allergy_word(knowledge):
    allergic = structure_followup("宝宝 对 鸡蛋 过敏", knowledge.products, today=TODAY)
    not_allergic = structure_followup("宝宝 爱 吃 鸡蛋", knowledge.products, today=TODAY)

    assert [mention.allergen_id for mention in allergic.allergens] == ["egg"]
    assert not_allergic.allergens == ()


@pytest.mark.parametrize(
    ("today", "expected_days"),
    [(date(2026, 11, 30), 5), (date(2026, 12, 5), 0), (date(2026, 12, 6), 6)],
    ids=["monday", "saturday", "sunday"],
)
def test_weekend_offset_by_weekday(today, expected_days, knowledge):
    result = structure_followup("周末 再 来", knowledge.products, today=today)

    assert result.followup_in_days == expected_days


def test_month_end_offset(knowledge):
    result = structure_followup("月底 再 联系", knowledge.products, today=date(2026, 12, 20))

    assert result.followup_in_days == 11


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("六", 6), ("十", 10), ("十一", 11), ("二十", 20), ("二十二", 22), ("一百零五", 105), ("两百", 200),
     ("一百五", 150), ("两千五", 2500), ("三万五", 35000), ("一千零一", 1001), ("零", 0),
     ("七八", None), ("二零二六", None), ("", None), ("六a", None), ("百十", None)],
)
def test_parse_chinese_number(numeral, value):
    assert parse_chinese_number(numeral) == value


def test_numerals_before_weekday_untouched():
    assert convert_numerals("周一周二都行") == "周一周二都行"
    assert convert_numerals("一次性纸尿裤") == "一次性纸尿裤"
    assert convert_numerals("一块去") == "一块去"
    assert convert_numerals("两百块钱") == "200块钱"


def test_join_words_keeps_latin_spaces():
    assert join_words("vitamin d 和 钙") == "vitamin d和钙"
    assert join_words("x l 码") == "xl码"


@pytest.mark.parametrize(
    ("months", "stage"),
    [(0, LifeStage.NEWBORN), (1, LifeStage.INFANT), (11, LifeStage.INFANT), (12, LifeStage.TODDLER),
     (35, LifeStage.TODDLER), (36, LifeStage.PRESCHOOL)],
)
def test_life_stage_band_boundaries(months, stage):
    assert life_stage_for_age(months) == stage


def test_life_stage_rejects_negative_age():
    with pytest.raises(ValueError, match="0 or more"):
        life_stage_for_age(-1)


# ---- Talk-track matching -----------------------------------------------------------------------


def suggest(knowledge, transcript: str, member: MemberFacts | None = None, limit: int = 3):
    followup = structure_followup(transcript, knowledge.products, today=TODAY)
    return suggest_talk_tracks(followup, knowledge, member, limit=limit)


def test_shipped_knowledge_base_size(knowledge):
    assert 12 <= len(knowledge.talk_tracks) <= 20
    assert len(knowledge.products.products) >= 15


def test_dha_example_suggests_dha_track(knowledge):
    suggestions = suggest(knowledge, "宝宝 六 个 月 想 了解 dha 补充剂")

    best = suggestions.matches[0]
    assert best.track.id == "dha-6-12m"
    kinds = {term.kind: term for term in best.matched_terms}
    assert kinds[TermKind.PRODUCT].term == "DHA"
    assert kinds[TermKind.PRODUCT].span.text == "DHA"
    assert kinds[TermKind.AGE].term == "6"
    assert kinds[TermKind.INTENT].term == Intent.ENQUIRY
    assert best.score == 5.5


def test_out_of_age_range_excluded(knowledge):
    suggestions = suggest(knowledge, "宝宝 六 个 月 想 了解 dha 补充剂")

    excluded = {item.track.id: item for item in suggestions.excluded}
    assert excluded["fish-oil-vs-algal-oil"].reason == ExclusionReason.AGE
    assert excluded["dha-pregnancy"].reason == ExclusionReason.LIFE_STAGE


def test_milk_allergy_excludes_milk_products(knowledge):
    member = MemberFacts(allergen_notes="牛奶蛋白过敏、鸡蛋过敏", baby_age_months=10)
    suggestions = suggest(knowledge, "想 给 宝宝 换 个 奶粉", member, limit=10)

    suggested = [match.track.id for match in suggestions.matches]
    excluded = {item.track.id: item for item in suggestions.excluded}
    assert suggested[0] == "cmpa-hydrolysed-formula"
    assert "formula-brand-switch" not in suggested
    assert excluded["formula-brand-switch"].reason == ExclusionReason.ALLERGEN
    assert excluded["formula-brand-switch"].detail == "牛奶蛋白: 奶粉"
    assert excluded["lactoferrin-immunity"].reason == ExclusionReason.ALLERGEN
    assert excluded["lactose-free-formula"].reason == ExclusionReason.ALLERGEN
    assert excluded["egg-yolk-introduction"].reason == ExclusionReason.ALLERGEN


def test_allergen_from_member_notes_is_explained(knowledge):
    member = MemberFacts(allergen_notes="牛奶蛋白过敏")
    suggestions = suggest(knowledge, "宝宝 湿疹 想 换 奶粉", member)

    best = suggestions.matches[0]
    allergen_terms = [term for term in best.matched_terms if term.kind is TermKind.ALLERGEN]
    assert best.track.id == "cmpa-hydrolysed-formula"
    assert allergen_terms[0].term == "牛奶蛋白"
    assert allergen_terms[0].source is TermSource.MEMBER
    assert allergen_terms[0].span is None


def test_allergy_said_in_followup_excludes(knowledge):
    suggestions = suggest(knowledge, "宝宝 一 岁 想 要 乳铁 蛋白 但是 牛奶 蛋白 过敏")

    excluded_ids = {item.track.id for item in suggestions.excluded}
    assert "lactoferrin-immunity" in excluded_ids
    assert all(match.track.id != "lactoferrin-immunity" for match in suggestions.matches)


def test_seafood_allergy_excludes_fish_oil(knowledge):
    member = MemberFacts(allergen_notes="海鲜过敏", baby_age_months=20)
    suggestions = suggest(knowledge, "鱼油 和 藻油 有 什么 区别", member)

    excluded = {item.track.id: item.reason for item in suggestions.excluded}
    assert excluded["fish-oil-vs-algal-oil"] == ExclusionReason.ALLERGEN


def test_followup_age_wins_over_profile(knowledge):
    member = MemberFacts(baby_age_months=30)
    suggestions = suggest(knowledge, "宝宝 六 个 月 想 了解 dha", member)

    assert suggestions.matches[0].track.id == "dha-6-12m"


def test_profile_age_used_without_spoken_age(knowledge):
    member = MemberFacts(baby_age_months=12)
    suggestions = suggest(knowledge, "想 换 三 段 奶粉", member)

    best = suggestions.matches[0]
    age_terms = [term for term in best.matched_terms if term.kind is TermKind.AGE]
    assert best.track.id == "formula-stage-2-to-3"
    assert age_terms[0].source is TermSource.MEMBER


def test_intent_only_suggests_general_tracks(knowledge):
    suggestions = suggest(knowledge, "这个 太 贵 了")

    assert [match.track.id for match in suggestions.matches] == ["price-objection"]


def test_nothing_matches_empty_followup(knowledge):
    suggestions = suggest(knowledge, "")

    assert suggestions.matches == ()


def test_pregnancy_track_needs_known_life_stage(knowledge):
    without_stage = suggest(knowledge, "想 买 纸尿裤", limit=20)
    pregnant = suggest(knowledge, "怀孕 七 个 月 想 买 纸尿裤", limit=20)

    assert "pregnancy-preparation" not in [match.track.id for match in without_stage.matches]
    assert pregnant.matches[0].track.id == "pregnancy-preparation"


def test_keyword_score_capped(knowledge):
    suggestions = suggest(knowledge, "宝宝 便秘 拉肚子 胀气 吐奶 消化 不好")

    keyword_weight = sum(term.weight for term in suggestions.matches[0].matched_terms if term.kind is TermKind.KEYWORD)
    assert keyword_weight == 2.0


def test_unknown_product_in_track_rejected(knowledge):
    data = {"talk_tracks": [{"id": "x", "title": "t", "script": "s", "products": ["no_such_product"]}]}

    with pytest.raises(KnowledgeBaseError, match="unknown product id.*no_such_product"):
        parse_talk_tracks(data, knowledge.products, source="test.json")


def test_invalid_intent_in_track_rejected(knowledge):
    data = {"talk_tracks": [{"id": "x", "title": "t", "script": "s", "intents": ["闲聊"]}]}

    with pytest.raises(KnowledgeBaseError, match="talk track 'x'"):
        parse_talk_tracks(data, knowledge.products, source="test.json")


def test_product_with_unknown_allergen_rejected():
    data = {"allergens": [], "products": [{"id": "p", "name": "P", "category": "c", "contains_allergens": ["nuts"]}]}

    with pytest.raises(ProductDictionaryError, match="unknown allergen id.*nuts"):
        ProductDictionary.from_dict(data, source="test.json")


def test_missing_knowledge_dir_named(tmp_path):
    with pytest.raises(KnowledgeBaseError, match=str(tmp_path)):
        load_knowledge_base(tmp_path)
