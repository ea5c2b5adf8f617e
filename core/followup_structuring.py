"""Structure a clerk's one-line voice follow-up: baby age, products, allergies, intent and timing.

The input is a Vosk Mandarin transcript: words separated by spaces and numbers spoken as
Chinese numerals, for example "宝宝 六 个 月 想 了解 dha 补充剂". `structure_followup` turns
it into cleaned text ("宝宝6个月想了解DHA补充剂") and fields, and records the spans of the
cleaned text that produced each field so the screen can explain its suggestion.

Steps, in order:
1. Join the words: drop the spaces between words, but keep one space between two Latin
   or digit tokens ("vitamin d"). Runs of single Latin letters are spelled-out acronyms
   and are joined ("d h a" -> "dha").
2. Normalise Latin product terms to the product dictionary's spelling ("dha" -> "DHA").
3. Convert Chinese numerals to digits only where a unit of age, time or quantity follows
   ("六个月" -> "6个月", "两百毫升" -> "200毫升"). Words such as 一下, 十分, 一些, 一起 and
   一定 have no such unit and stay as they are.
4. Extract the fields from the cleaned text.

Life stages, as half-open bands of the baby's age in whole months:
    孕期 (pregnancy)   before birth
    新生儿 (newborn)    0 <= age < 1
    婴儿 (infant)       1 <= age < 12
    幼儿 (toddler)      12 <= age < 36
    学龄前 (preschool)  36 <= age

Intent, the first rule that matches, in this order of precedence:
    投诉 (complaint)    complaint, refund or quality words: 投诉, 退货, 质量问题, 过期 ...
    复购 (repurchase)   buying the same again: 回购, 再买, 快吃完, 用完了, 上次买的 ...
    比价 (price)        price comparison: 太贵, 便宜, 优惠, 网上, 京东, 拼多多 ...
    想买 (purchase)     buying now: 想买, 要买, 拿两罐, 下单 ... unless negated (不想买)
    咨询 (enquiry)      asking: 了解, 咨询, 问问, 推荐, 适合, 有没有, 区别 ...
    None                no cue word
Complaints come first because a complaint that mentions a price is still a complaint, and
a repurchase beats a plain purchase because "再买" contains "买".

Follow-up timing is an offset in days from the day of the follow-up, never a date:
    今天 0, 明天 1, 后天 2, 大后天 3; N天后 N; N周后 7N; N个月后 30N (estimate);
    过几天 3 (estimate); 半个月 15; 下周 / 下星期 7; 下下周 14; 下个月 30 (estimate);
    周末 the coming Saturday (0 on a Saturday, 6 on a Sunday); 周三 / 星期三 the next
    Wednesday (7 when spoken on a Wednesday); 下周三 Wednesday of next calendar week
    (weeks start on Monday); 月底 the last day of this month.
The weekday-based phrases need the follow-up's date, passed as `today`.

Stdlib only: this module runs on phones.
"""

import calendar
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "assets" / "knowledge"
DEFAULT_PRODUCTS_PATH = KNOWLEDGE_DIR / "products.zh-CN.json"


class LifeStage(StrEnum):
    PREGNANCY = "孕期"
    NEWBORN = "新生儿"
    INFANT = "婴儿"
    TODDLER = "幼儿"
    PRESCHOOL = "学龄前"


class Intent(StrEnum):
    ENQUIRY = "咨询"
    PURCHASE = "想买"
    PRICE_COMPARISON = "比价"
    COMPLAINT = "投诉"
    REPURCHASE = "复购"


def life_stage_for_age(age_months: int) -> LifeStage:
    """Return the life-stage band of a baby `age_months` old (see the module docstring)."""
    if age_months < 0:
        raise ValueError(f"age_months must be 0 or more, got {age_months}")
    if age_months < 1:
        return LifeStage.NEWBORN
    if age_months < 12:
        return LifeStage.INFANT
    if age_months < 36:
        return LifeStage.TODDLER
    return LifeStage.PRESCHOOL


# ---- Results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A slice [start, end) of the cleaned text, and the text it covers."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ProductMention:
    product_id: str
    # The dictionary's name of the product, e.g. "DHA".
    name: str
    # The stage or size named with it (e.g. "二段", "L码"), else None.
    variant: str | None
    spans: tuple[Span, ...]


@dataclass(frozen=True)
class AllergenMention:
    allergen_id: str
    name: str
    span: Span


@dataclass(frozen=True)
class Quantity:
    value: int
    # As spoken: 毫升, ml, 克, 罐, 盒, 包, 袋, 瓶, 箱, 片, 斤, 公斤, kg.
    unit: str
    span: Span


@dataclass(frozen=True)
class StructuredFollowup:
    transcript: str
    # The transcript after joining, Latin normalisation and numeral conversion. Spans index this.
    text: str
    baby_age_months: int | None = None
    # True for "一岁多", "六个多月", "七八个月": the age is a lower bound.
    age_is_approximate: bool = False
    life_stage: LifeStage | None = None
    products: tuple[ProductMention, ...] = ()
    allergens: tuple[AllergenMention, ...] = ()
    intent: Intent | None = None
    # Days from the day of the follow-up to the promised next contact.
    followup_in_days: int | None = None
    quantities: tuple[Quantity, ...] = ()
    # Field name -> the spans that produced it, for explanation.
    evidence: Mapping[str, tuple[Span, ...]] = field(default_factory=dict)

    @property
    def product_ids(self) -> tuple[str, ...]:
        return tuple(mention.product_id for mention in self.products)


# ---- Product dictionary ----------------------------------------------------------------------


class ProductDictionaryError(ValueError):
    """The product dictionary file is missing or contains an invalid entry."""


@dataclass(frozen=True)
class Variant:
    """A stage of a formula or a size of a diaper, with the words that name it."""

    name: str
    synonyms: tuple[str, ...]
    # Inclusive [min, max] age in whole months the variant is for, if any.
    age_months: tuple[int, int] | None
    # Longer phrases containing a synonym that do not name the variant ("一段时间").
    exclude_contexts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    category: str
    synonyms: tuple[str, ...]
    # Ids of the allergens the product contains.
    contains_allergens: frozenset[str]
    variants: tuple[Variant, ...] = ()
    exclude_contexts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Allergen:
    id: str
    name: str
    # Words naming the allergen in member notes and transcripts ("牛奶蛋白", "奶蛋白").
    synonyms: tuple[str, ...]


@dataclass(frozen=True)
class _Term:
    """One dictionary word, as spelled and lower-cased for matching, and what it names."""

    spelling: str
    text: str
    product_id: str
    variant: str | None
    exclude_contexts: tuple[str, ...]


class ProductDictionary:
    """Products with their synonyms, stages and sizes, and allergens, from products.zh-CN.json."""

    def __init__(self, products: Iterable[Product], allergens: Iterable[Allergen]) -> None:
        self.products: dict[str, Product] = {product.id: product for product in products}
        self.allergens: dict[str, Allergen] = {allergen.id: allergen for allergen in allergens}
        self._terms = tuple(self._build_terms())
        # Variant name -> the products that have it, in file order ("二段" of several formulas).
        self._variant_owners: dict[str, list[str]] = {}
        for product in self.products.values():
            for variant in product.variants:
                self._variant_owners.setdefault(variant.name, []).append(product.id)
        self._latin_spellings = {
            _ascii_lower(term.spelling): term.spelling for term in self._terms if _is_latin_term(term.spelling)
        }
        # Longest first, so "鱼油DHA" wins over "DHA". ASCII-only case folding leaves CJK alone.
        alternatives = sorted(self._latin_spellings.values(), key=len, reverse=True)
        self.latin_pattern = re.compile(
            r"(?<![A-Za-z0-9])(?:" + "|".join(re.escape(term) for term in alternatives) + r")(?![A-Za-z0-9])"
            if alternatives else r"(?!)",
            re.IGNORECASE | re.ASCII,
        )

    @classmethod
    def load(cls, path: Path | str = DEFAULT_PRODUCTS_PATH) -> "ProductDictionary":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ProductDictionaryError(f"Product dictionary {path} not found.") from error
        except json.JSONDecodeError as error:
            raise ProductDictionaryError(f"Product dictionary {path} is not valid JSON: {error}") from error
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "product dictionary") -> "ProductDictionary":
        allergens = [_parse_allergen(entry, source) for entry in data.get("allergens", [])]
        allergen_ids = {allergen.id for allergen in allergens}
        products = [_parse_product(entry, source, allergen_ids) for entry in data.get("products", [])]
        _check_unique([p.id for p in products], "product id", source)
        _check_unique([a.id for a in allergens], "allergen id", source)
        return cls(products, allergens)

    def _build_terms(self) -> Iterable[_Term]:
        for product in self.products.values():
            for word in dict.fromkeys((product.name, *product.synonyms)):
                yield _Term(word, _ascii_lower(word), product.id, None, product.exclude_contexts)
            for variant in product.variants:
                for word in dict.fromkeys((variant.name, *variant.synonyms)):
                    yield _Term(word, _ascii_lower(word), product.id, variant.name, variant.exclude_contexts)

    def latin_spelling(self, word: str) -> str | None:
        """Return the dictionary's spelling of a Latin term matched case-insensitively, else None."""
        return self._latin_spellings.get(_ascii_lower(word))

    def find_products(self, text: str) -> list[ProductMention]:
        """Find product and variant words in `text`, longest match first, in order of first mention."""
        lowered = _ascii_lower(text)
        candidates = []
        for term in self._terms:
            for start in _find_all(lowered, term.text):
                end = start + len(term.text)
                if _is_latin_term(term.text) and not _on_latin_boundaries(lowered, start, end):
                    continue
                if _inside_excluded_context(lowered, start, end, term.exclude_contexts):
                    continue
                candidates.append((start, end, term))

        selected = _longest_non_overlapping(candidates)
        named = {term.product_id for _, _, term in selected if term.variant is None}
        variants: dict[str, str] = {}
        spans: dict[str, list[Span]] = {}
        for start, end, term in selected:
            product_id = term.product_id
            if term.variant is not None:
                product_id = self._variant_owner(term.variant, named)
                variants.setdefault(product_id, term.variant)
            spans.setdefault(product_id, []).append(Span(start, end, text[start:end]))
        return [
            ProductMention(product_id, self.products[product_id].name, variants.get(product_id), tuple(product_spans))
            for product_id, product_spans in spans.items()
        ]

    def _variant_owner(self, variant: str, named: set[str]) -> str:
        """Return the product a variant word belongs to: a named product that has it, else the first that has it."""
        owners = self._variant_owners[variant]
        return next((owner for owner in owners if owner in named), owners[0])

    def find_allergens(self, text: str, require_cue: bool) -> list[AllergenMention]:
        """Find allergen words in `text`, one mention per allergen.

        Member notes list allergies by definition, so `require_cue=False` for them. In a
        transcript "鸡蛋" alone is food, so `require_cue=True` accepts a word only when an
        allergy word (过敏, 不耐) follows within a few characters: "对鸡蛋过敏", "乳糖不耐受".
        """
        lowered = _ascii_lower(text)
        candidates = []
        for allergen in self.allergens.values():
            for word in dict.fromkeys((allergen.name, *allergen.synonyms)):
                for start in _find_all(lowered, _ascii_lower(word)):
                    end = start + len(word)
                    if require_cue and not _ALLERGY_CUE.match(text, end):
                        continue
                    candidates.append((start, end, allergen))

        found: dict[str, AllergenMention] = {}
        for start, end, allergen in _longest_non_overlapping(candidates):
            found.setdefault(allergen.id, AllergenMention(allergen.id, allergen.name, Span(start, end, text[start:end])))
        return list(found.values())


def _parse_allergen(entry: Mapping[str, Any], source: str) -> Allergen:
    allergen_id = _required_string(entry, "id", source, "allergen")
    return Allergen(
        id=allergen_id,
        name=_required_string(entry, "name", source, f"allergen {allergen_id}"),
        synonyms=_string_tuple(entry.get("synonyms", []), source, f"allergen {allergen_id} synonyms"),
    )


def _parse_product(entry: Mapping[str, Any], source: str, allergen_ids: set[str]) -> Product:
    product_id = _required_string(entry, "id", source, "product")
    where = f"product {product_id}"
    contains = _string_tuple(entry.get("contains_allergens", []), source, f"{where} contains_allergens")
    unknown = set(contains) - allergen_ids
    if unknown:
        raise ProductDictionaryError(f"{source}: {where} contains unknown allergen id(s) {', '.join(sorted(unknown))}.")
    variants = tuple(
        Variant(
            name=_required_string(variant, "name", source, f"{where} variant"),
            synonyms=_string_tuple(variant.get("synonyms", []), source, f"{where} variant synonyms"),
            age_months=parse_age_range(variant.get("age_months"), source, f"{where} variant {variant.get('name')}"),
            exclude_contexts=_string_tuple(variant.get("exclude_contexts", []), source, f"{where} variant exclude_contexts"),
        )
        for variant in entry.get("variants", [])
    )
    return Product(
        id=product_id,
        name=_required_string(entry, "name", source, where),
        category=_required_string(entry, "category", source, where),
        synonyms=_string_tuple(entry.get("synonyms", []), source, f"{where} synonyms"),
        contains_allergens=frozenset(contains),
        variants=variants,
        exclude_contexts=_string_tuple(entry.get("exclude_contexts", []), source, f"{where} exclude_contexts"),
    )


def parse_age_range(value: Any, source: str, where: str) -> tuple[int, int] | None:
    """Parse an inclusive [min, max] range of whole months, or null for any age."""
    if value is None:
        return None
    valid = (
        isinstance(value, list) and len(value) == 2
        and all(isinstance(bound, int) and not isinstance(bound, bool) for bound in value)
        and 0 <= value[0] <= value[1]
    )
    if not valid:
        raise ProductDictionaryError(f"{source}: {where} age_months must be [min, max] whole months with 0 <= min <= max, got {value!r}.")
    return value[0], value[1]


def _required_string(entry: Mapping[str, Any], key: str, source: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProductDictionaryError(f"{source}: {where} needs a non-empty string '{key}', got {value!r}.")
    return value


def _string_tuple(value: Any, source: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ProductDictionaryError(f"{source}: {where} must be a list of non-empty strings, got {value!r}.")
    return tuple(value)


def _check_unique(ids: list[str], what: str, source: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ProductDictionaryError(f"{source}: duplicate {what} '{item}'.")
        seen.add(item)


# ---- Text helpers ----------------------------------------------------------------------------

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# Full-width ASCII (Ａ, １, ：) typed with a Chinese input method, and the ideographic space.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_ALLERGY_CUE = re.compile(r".{0,3}?(?:过敏|不耐|敏感)")


def _ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only, so the result has the same length and indices as `text`."""
    return text.translate(_ASCII_LOWER)


def _is_ascii_alnum(character: str) -> bool:
    return character.isascii() and character.isalnum()


def _is_latin_term(term: str) -> bool:
    return bool(_LATIN_LETTER.search(term))


def _on_latin_boundaries(text: str, start: int, end: int) -> bool:
    """Tell whether text[start:end] is not part of a longer Latin word ("dha" is not in "dhaka")."""
    before_ok = start == 0 or not (_is_ascii_alnum(text[start - 1]) and _is_ascii_alnum(text[start]))
    after_ok = end == len(text) or not (_is_ascii_alnum(text[end]) and _is_ascii_alnum(text[end - 1]))
    return before_ok and after_ok


def _find_all(text: str, word: str) -> Iterable[int]:
    start = text.find(word)
    while start != -1:
        yield start
        start = text.find(word, start + 1)


def _inside_excluded_context(text: str, start: int, end: int, contexts: tuple[str, ...]) -> bool:
    for context in contexts:
        context = _ascii_lower(context)
        for context_start in _find_all(text, context):
            if context_start <= start and end <= context_start + len(context):
                return True
    return False


def _longest_non_overlapping(candidates: list[tuple]) -> list[tuple]:
    """Keep, scanning left to right, the longest candidate at each position that overlaps no kept one."""
    kept = []
    taken_until = 0
    for candidate in sorted(candidates, key=lambda c: (c[0], -(c[1] - c[0]))):
        start, end = candidate[0], candidate[1]
        if start >= taken_until:
            kept.append(candidate)
            taken_until = end
    return kept


# ---- Step 1: joining Vosk's words ------------------------------------------------------------


def join_words(transcript: str) -> str:
    """Drop the spaces Vosk puts between words, keeping one between two Latin or digit tokens."""
    tokens = transcript.translate(_FULL_WIDTH).split()
    tokens = _join_spelled_letters(tokens)
    pieces: list[str] = []
    for token in tokens:
        if pieces and _is_ascii_alnum(pieces[-1][-1]) and _is_ascii_alnum(token[0]):
            pieces.append(" ")
        pieces.append(token)
    return "".join(pieces)


def _join_spelled_letters(tokens: list[str]) -> list[str]:
    """Join runs of two or more single Latin letters, an acronym spelled out: d h a -> dha."""
    joined: list[str] = []
    run: list[str] = []
    for token in tokens + [""]:
        if len(token) == 1 and token.isascii() and token.isalpha():
            run.append(token)
            continue
        if len(run) >= 2:
            joined.append("".join(run))
        else:
            joined.extend(run)
        run = []
        if token:
            joined.append(token)
    return joined


# ---- Step 2: Latin product terms -------------------------------------------------------------


def normalise_latin_terms(text: str, dictionary: ProductDictionary) -> str:
    """Replace dictionary terms containing Latin letters, matched ignoring case, with its spelling.

    "dha" -> "DHA", "l码" -> "L码", "维生素d" -> "维生素D". A term never matches inside a
    longer Latin word ("dha" is not replaced in "dhaka").
    """
    return dictionary.latin_pattern.sub(lambda match: dictionary.latin_spelling(match.group(0)) or match.group(0), text)


# ---- Step 3: Chinese numerals ----------------------------------------------------------------

_DIGIT_VALUES = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_MULTIPLIERS = {"十": 10, "百": 100, "千": 1000}
_NUMERAL_CHARACTERS = "零〇一二两三四五六七八九十百千万"


def parse_chinese_number(numeral: str) -> int | None:
    """Parse a Chinese integer numeral such as 六, 十一, 二十, 一百零五, 两百, 两千五; None if invalid.

    A trailing digit after 百, 千 or 万 counts one place lower, as spoken: 一百五 = 150,
    两千五 = 2500. Digit-by-digit readings (二零二六) and ranges (七八) return None.
    """
    if not numeral or any(character not in _NUMERAL_CHARACTERS for character in numeral):
        return None
    total = 0
    section = 0
    pending: int | None = None
    last_multiplier = 0
    after_zero = False
    for character in numeral:
        if character in _DIGIT_VALUES:
            value = _DIGIT_VALUES[character]
            if value == 0:
                if pending is not None:
                    return None
                after_zero = True
                continue
            if pending is not None:
                return None
            pending = value
        elif character in _MULTIPLIERS:
            multiplier = _MULTIPLIERS[character]
            if last_multiplier and multiplier >= last_multiplier:
                return None
            # Only 十 may stand without a digit before it (十一 = 11, but not 百十).
            if pending is None and multiplier != 10:
                return None
            section += (1 if pending is None else pending) * multiplier
            pending = None
            last_multiplier = multiplier
            after_zero = False
        else:  # 万
            if total:
                return None
            section += pending or 0
            if section == 0:
                return None
            total = section * 10000
            section, pending, last_multiplier, after_zero = 0, None, 10000, False
    if pending is not None:
        elided = last_multiplier >= 100 and not after_zero and numeral[-2] not in _DIGIT_VALUES
        section += pending * (last_multiplier // 10) if elided else pending
    return total + section


# Units after which a numeral is a number of something. 个 may stand between the numeral
# and the unit; 多 and 半 mark "more than" and "and a half". Bare 月 is not listed: "六月"
# is June. 块 (yuan) counts only as 块钱, because "一块" also means "together".
_UNITS = (
    "个半月", "个多月", "多个月", "个月", "月龄", "月大", "周岁", "岁", "个星期", "星期", "个礼拜", "礼拜",
    "周", "天", "小时", "分钟", "毫升", "ml", "公斤", "kg", "克", "斤", "罐", "盒", "包", "袋", "瓶", "箱",
    "片", "元", "块钱", "次",
)
# Phrases whose numerals stay words.
_PROTECTED_PHRASES = ("一次性", "一天到晚", "三天两头", "一周年")
_NUMERAL_SPAN = re.compile(
    r"(?<![周期拜第])"  # 周三, 星期三, 礼拜三 are weekdays.
    r"(?P<numeral>[一二两三四五六七八九十百千万][零〇一二两三四五六七八九十百千万]*)"
    r"(?P<unit>" + "|".join(re.escape(unit) for unit in _UNITS) + r")"
)


def convert_numerals(text: str) -> str:
    """Write Chinese numerals as digits where a unit of age, time or quantity follows them.

    "宝宝六个月" -> "宝宝6个月", "一岁零三个月" -> "1岁零3个月", "七八个月" -> "7-8个月";
    "等一下", "十分满意", "一些", "一起", "一定" are left alone.
    """
    protected = [
        (start, start + len(phrase)) for phrase in _PROTECTED_PHRASES for start in _find_all(text, phrase)
    ]

    def replace(match: re.Match) -> str:
        if any(start <= match.start() < end for start, end in protected):
            return match.group(0)
        numeral = match.group("numeral")
        digits = _numeral_as_digits(numeral)
        if digits is None:
            return match.group(0)
        return digits + match.group("unit")

    return _NUMERAL_SPAN.sub(replace, text)


def _numeral_as_digits(numeral: str) -> str | None:
    value = parse_chinese_number(numeral)
    if value is not None:
        return str(value)
    # Two neighbouring digits are a spoken range: 七八 = 7 to 8, 一两 = 1 to 2.
    if len(numeral) == 2 and numeral[0] in _DIGIT_VALUES and numeral[1] in _DIGIT_VALUES:
        low, high = _DIGIT_VALUES[numeral[0]], _DIGIT_VALUES[numeral[1]]
        if high == low + 1 and low > 0:
            return f"{low}-{high}"
    return None


# ---- Step 4a: baby age -----------------------------------------------------------------------

_NUMBER = r"(?P<value>\d+)(?:-(?P<high>\d+))?"
_YEARS = re.compile(_NUMBER + r"(?:周岁|岁)(?:(?P<half>半)|(?P<more>多)|零?(?P<months>\d+)个?月)?")
_MONTHS = re.compile(_NUMBER + r"(?:个(?P<more>多)?(?P<half>半)?月|(?P<more2>多)个月|月(?=龄|大))")
_WEEKS = re.compile(_NUMBER + r"(?:个)?(?:周|星期|礼拜)(?!岁)")
_DAYS = re.compile(_NUMBER + r"天")
# Ages spoken as words, in whole months.
_AGE_WORDS = {"半岁": 6, "半个月": 0, "满月": 1, "百天": 3, "百日": 3, "刚出生": 0}

_AGE_SUBJECTS = (
    "宝宝", "宝贝", "孩子", "小孩", "小朋友", "娃", "儿子", "女儿", "闺女", "男宝", "女宝", "大宝", "小宝",
    "二宝", "老大", "老二", "我家", "他家", "她家", "他", "她", "宝",
)
_AGE_FILLERS = (
    "才", "刚刚", "刚", "已经", "现在", "今年", "今天", "快要", "快", "满", "都", "有", "还不到", "不到",
    "差不多", "大概", "大约", "是", "的", "出生", "了",
)
# After these a number of months or days is a duration or a time, not an age: 喝了三个月, 再过两个月.
_NOT_AGE_BEFORE = ("喝了", "吃了", "用了", "买了", "了", "过", "隔", "每", "再", "近", "这", "那", "最近", "前")
_NOT_AGE_AFTER = ("后", "以后", "之后", "前", "以前", "之前", "内", "以内", "以上", "以下", "起")
# Older than this is not a child's age in a baby store but a parent's ("宝妈三十岁").
MAX_BABY_AGE_MONTHS = 72
_AGE_AFTER = ("大", "的宝宝", "的孩子", "的娃", "宝宝", "龄")
_PREGNANCY_CUES = re.compile(r"怀孕|孕期|孕妇|孕早期|孕中期|孕晚期|准妈妈|预产期|待产|备孕|孕\d")


@dataclass(frozen=True)
class BabyAge:
    """A baby age found in the text: whole months, whether it is a lower bound, and its span."""

    months: int
    approximate: bool
    span: Span


def find_baby_age(text: str) -> BabyAge | None:
    """Return the first baby age spoken in `text`, in whole months, or None."""
    candidates: list[BabyAge] = []
    for match in _YEARS.finditer(text):
        if _is_age_context(text, match, strict=False, needs_subject=False):
            candidates.append(_years_match(text, match))
    for match in _MONTHS.finditer(text):
        if _overlaps(match, candidates) or not _is_age_context(text, match, strict=False, needs_subject=True):
            continue
        months = int(match.group("value"))
        approximate = bool(match.group("high") or match.group("more") or match.group("more2") or match.group("half"))
        candidates.append(BabyAge(months, approximate, _span(text, match)))
    for pattern, days_per_unit in ((_WEEKS, 7), (_DAYS, 1)):
        for match in pattern.finditer(text):
            if _overlaps(match, candidates) or not _is_age_context(text, match, strict=True, needs_subject=True):
                continue
            days = int(match.group("value")) * days_per_unit
            # A month is taken as 30 days, so 3 weeks is 0 months and 5 weeks is 1.
            candidates.append(BabyAge(days // 30, bool(match.group("high")), _span(text, match)))
    for word, months in _AGE_WORDS.items():
        for start in _find_all(text, word):
            if any(c.span.start <= start < c.span.end for c in candidates):
                continue
            if word == "半个月" and not _subject_before(text, start):
                continue
            candidates.append(BabyAge(months, False, Span(start, start + len(word), word)))
    candidates = [candidate for candidate in candidates if candidate.months <= MAX_BABY_AGE_MONTHS]
    if not candidates:
        return None
    # NOTE: only the first age is kept, so in "老大三岁老二六个月" the second child is ignored.
    return min(candidates, key=lambda candidate: candidate.span.start)


def _years_match(text: str, match: re.Match) -> BabyAge:
    months = int(match.group("value")) * 12
    if match.group("half"):
        months += 6
    elif match.group("months"):
        months += int(match.group("months"))
    approximate = bool(match.group("more") or match.group("high"))
    return BabyAge(months, approximate, _span(text, match))


def _span(text: str, match: re.Match) -> Span:
    return Span(match.start(), match.end(), text[match.start():match.end()])


def _overlaps(match: re.Match, candidates: list[BabyAge]) -> bool:
    return any(match.start() < c.span.end and c.span.start < match.end() for c in candidates)


def _is_age_context(text: str, match: re.Match, strict: bool, needs_subject: bool) -> bool:
    """Decide whether a number of years, months, weeks or days is the baby's age.

    Rejected: a time or duration (三个月后, 喝了三个月, 三岁以上) and a pregnancy (怀孕六个月).
    Accepted: a baby word before it (宝宝六个月, 孩子才两个月) or 大/的宝宝 after it (八个月大).
    Months are also accepted at the start of the text, the way clerks begin ("六个月想了解DHA").
    `strict` (weeks and days) accepts only 出生 before or 大/的宝宝 after, because
    "宝宝三天没拉" is a duration.
    """
    before = text[:match.start()]
    after = text[match.end():]
    if after.startswith(_NOT_AGE_AFTER):
        return False
    if before.endswith(_NOT_AGE_BEFORE):
        return False
    if before.endswith("孕") or _PREGNANCY_CUES.search(before[-6:]):
        return False
    if after.startswith(_AGE_AFTER):
        return True
    if strict:
        return before.endswith("出生")
    if not needs_subject:
        return True
    return _subject_before(text, match.start()) or not _strip_fillers(before)


def _strip_fillers(before: str) -> str:
    stripped = before.rstrip(" ，,。")
    changed = True
    while changed:
        changed = False
        for filler in _AGE_FILLERS:
            if stripped.endswith(filler):
                stripped = stripped[: -len(filler)]
                changed = True
    return stripped


def _subject_before(text: str, position: int) -> bool:
    return _strip_fillers(text[:position]).endswith(_AGE_SUBJECTS)


# ---- Step 4b: follow-up timing ---------------------------------------------------------------

_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEK_WORD = r"(?:周|星期|礼拜)"
_UNIT_DAYS = {"天": 1, "周": 7, "星期": 7, "个星期": 7, "礼拜": 7, "个礼拜": 7, "个月": 30}
_TIMING = re.compile(
    r"(?P<next_weekday>下个?" + _WEEK_WORD + r"(?P<next_day>[一二三四五六日天]))"
    r"|(?P<next_weekend>下个?周末)"
    r"|(?P<week_after_next>下下个?" + _WEEK_WORD + r")"
    r"|(?P<next_week>下个?" + _WEEK_WORD + r")"
    r"|(?P<weekend>(?:这|本)?周末)"
    r"|(?P<weekday>(?<!\d)(?:这|本)?" + _WEEK_WORD + r"(?P<day>[一二三四五六日天]))"
    r"|(?P<after>(?:再?过|隔)?(?P<count>\d+)(?:-(?P<count_high>\d+))?(?P<unit>个星期|个礼拜|个月|天|周|星期|礼拜)(?:后|以后|之后|内|以内)?)"
    r"|(?P<few_days>过几天|几天后|几天以后)"
    r"|(?P<half_month>(?:过)?半个月(?:后|以后|之后)?)"
    r"|(?P<next_month>下个?月)"
    r"|(?P<month_end>月底)"
    r"|(?P<day_word>大后天|后天|明天|明儿|明日)"
)
_DAY_WORDS = {"大后天": 3, "后天": 2, "明天": 1, "明儿": 1, "明日": 1}


def find_followup_timing(text: str, today: date) -> tuple[int, Span] | None:
    """Return the first follow-up time spoken in `text` as (days from `today`, span), or None."""
    for match in _TIMING.finditer(text):
        days = _timing_days(match, today)
        if days is not None:
            return days, _span(text, match)
    return None


def _timing_days(match: re.Match, today: date) -> int | None:
    weekday = today.weekday()
    if match.group("next_weekday"):
        return (7 - weekday) + _WEEKDAYS[match.group("next_day")]
    if match.group("next_weekend"):
        return (7 - weekday) + 5
    if match.group("week_after_next"):
        return 14
    if match.group("next_week"):
        return 7
    if match.group("weekend"):
        return (5 - weekday) % 7
    if match.group("weekday"):
        return (_WEEKDAYS[match.group("day")] - weekday - 1) % 7 + 1
    if match.group("after"):
        return _after_days(match)
    if match.group("few_days"):
        return 3
    if match.group("half_month"):
        return 15
    if match.group("next_month"):
        return 30
    if match.group("month_end"):
        return calendar.monthrange(today.year, today.month)[1] - today.day
    return _DAY_WORDS[match.group("day_word")]


def _after_days(match: re.Match) -> int | None:
    """Days of "三天后", "过两周", "一两天内"; None for a bare duration or age ("宝宝三天").

    A count needs a time word around it: 过 or 隔 before, or 后 / 以后 / 内 after.
    A spoken range counts its lower bound: 一两天内 is 1 day.
    """
    whole = match.group("after")
    has_time_word = whole.startswith(("过", "再过", "隔")) or whole.endswith(("后", "以后", "之后", "内", "以内"))
    if not has_time_word:
        return None
    return int(match.group("count")) * _UNIT_DAYS[match.group("unit")]


# ---- Step 4c: intent and quantities ----------------------------------------------------------

_INTENT_CUES: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    (Intent.COMPLAINT, ("投诉", "退货", "退款", "退换", "质量问题", "不满意", "差评", "过期", "变质", "结块", "有异物", "坏了", "假货")),
    (Intent.REPURCHASE, ("复购", "回购", "再买", "又来买", "续上", "快吃完", "快喝完", "快用完", "吃完了", "喝完了", "用完了", "老样子", "上次买的", "囤货")),
    (Intent.PRICE_COMPARISON, ("比价", "太贵", "贵了", "有点贵", "便宜", "优惠", "打折", "折扣", "价格", "多少钱", "划算", "网上", "京东", "天猫", "淘宝", "拼多多", "满减", "赠品")),
    (Intent.PURCHASE, ("想买", "要买", "想要", "买", "拿", "下单", "带走", "订")),
    (Intent.ENQUIRY, ("了解", "咨询", "问问", "问一下", "推荐", "适合", "有没有", "能不能", "可以吗", "区别", "怎么", "哪个", "哪种", "什么")),
)
_NEGATIONS = ("不", "没", "别", "先不", "不想", "不用")
_QUANTITY = re.compile(r"(?P<value>\d+)(?P<unit>毫升|ml|公斤|kg|克|斤|罐|盒|包|袋|瓶|箱|片)")


def find_intent(text: str) -> tuple[Intent, Span] | None:
    """Return the intent of the first rule with a cue in `text` (rules in precedence order)."""
    for intent, cues in _INTENT_CUES:
        spans = [
            Span(start, start + len(cue), cue)
            for cue in cues
            for start in _find_all(text, cue)
            if not (intent is Intent.PURCHASE and text[:start].endswith(_NEGATIONS))
        ]
        if spans:
            return intent, min(spans, key=lambda span: (span.start, -len(span.text)))
    return None


def find_quantities(text: str) -> list[Quantity]:
    return [
        Quantity(int(match.group("value")), match.group("unit"), _span(text, match))
        for match in _QUANTITY.finditer(text)
    ]


# ---- The whole pipeline ----------------------------------------------------------------------


def clean_transcript(transcript: str, dictionary: ProductDictionary) -> str:
    """Run steps 1-3: join words, normalise Latin terms, convert numerals in unit spans."""
    text = join_words(transcript)
    text = normalise_latin_terms(text, dictionary)
    return convert_numerals(text)


def structure_followup(transcript: str, dictionary: ProductDictionary, today: date | None = None) -> StructuredFollowup:
    """Clean a Vosk transcript and extract the follow-up's fields, with the spans behind each.

    `today` is the day of the follow-up; weekday phrases (周末, 下周三) count from it.
    """
    today = today or date.today()
    text = clean_transcript(transcript, dictionary)
    evidence: dict[str, tuple[Span, ...]] = {}

    age = find_baby_age(text)
    life_stage = None
    if age is not None:
        life_stage = life_stage_for_age(age.months)
        evidence["baby_age_months"] = (age.span,)
        evidence["life_stage"] = (age.span,)
    else:
        life_stage = _life_stage_from_words(text, evidence)

    products = tuple(dictionary.find_products(text))
    if products:
        evidence["products"] = tuple(span for mention in products for span in mention.spans)
    allergens = tuple(dictionary.find_allergens(text, require_cue=True))
    if allergens:
        evidence["allergens"] = tuple(mention.span for mention in allergens)

    intent = find_intent(text)
    if intent is not None:
        evidence["intent"] = (intent[1],)
    timing = find_followup_timing(text, today)
    if timing is not None:
        evidence["followup_in_days"] = (timing[1],)
    quantities = tuple(find_quantities(text))
    if quantities:
        evidence["quantities"] = tuple(quantity.span for quantity in quantities)

    return StructuredFollowup(
        transcript=transcript,
        text=text,
        baby_age_months=age.months if age else None,
        age_is_approximate=age.approximate if age else False,
        life_stage=life_stage,
        products=products,
        allergens=allergens,
        intent=intent[0] if intent else None,
        followup_in_days=timing[0] if timing else None,
        quantities=quantities,
        evidence=evidence,
    )


def _life_stage_from_words(text: str, evidence: dict[str, tuple[Span, ...]]) -> LifeStage | None:
    """Return 孕期 or 新生儿 from words when no age was spoken ("怀孕七个月", "新生儿"), else None."""
    pregnancy = _PREGNANCY_CUES.search(text)
    if pregnancy:
        evidence["life_stage"] = (_span(text, pregnancy),)
        return LifeStage.PREGNANCY
    newborn = text.find("新生儿")
    if newborn != -1:
        evidence["life_stage"] = (Span(newborn, newborn + 3, "新生儿"),)
        return LifeStage.NEWBORN
    return None
