"""The store's knowledge base of talk tracks, and matching a structured follow-up to it.

Content lives in assets/knowledge/: products.<locale>.json (see core.followup_structuring)
and talk_tracks.<locale>.json, a list of talk tracks:

    {"id": "dha-6-12m", "title": "...", "script": "...",
     "products": ["dha"],          # ids of the products the script recommends
     "variants": ["二段"],          # optional: stages or sizes the script is about
     "age_months": [6, 12],        # inclusive whole months, or null for any age
     "life_stages": ["孕期"],       # optional: only for these life stages
     "intents": ["咨询", "想买"],   # intents the script is for
     "keywords": ["大脑", "视力"],  # concern words looked for in the follow-up text
     "for_allergens": ["milk_protein"]}  # optional: allergies the script is written for

Matching is explainable term overlap. Each matched term adds its weight to the score:
    product      3.0  for each product of the follow-up the script recommends
    allergen     3.0  the script is written for an allergy the member has
    variant      1.0  the follow-up names a stage or size the script is about
    intent       1.5  the follow-up's intent is one the script is for
    keyword      1.0  for each keyword in the text, at most 2.0 in all
    age          1.0  the baby's age lies in the script's range
    life stage   1.0  the life stage is one the script is for
A script that recommends products needs a product, variant, allergen or keyword match to
be suggested; a general script (no products: price objection, complaints, repurchase)
also qualifies on intent alone. Age and life stage only add to a match, except that a
script for given life stages is suggested only when the life stage is known.

A script is excluded, whatever its score, when it recommends a product containing an
allergen the member has (from the member's allergen notes or said in the follow-up),
or when the baby's known age or life stage is outside what the script is for.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.followup_structuring import (
    KNOWLEDGE_DIR,
    Intent,
    LifeStage,
    ProductDictionary,
    ProductDictionaryError,
    Span,
    StructuredFollowup,
    parse_age_range,
)

DEFAULT_LOCALE = "zh-CN"
DEFAULT_SUGGESTION_COUNT = 3

PRODUCT_WEIGHT = 3.0
ALLERGEN_WEIGHT = 3.0
VARIANT_WEIGHT = 1.0
INTENT_WEIGHT = 1.5
KEYWORD_WEIGHT = 1.0
MAX_KEYWORD_SCORE = 2.0
AGE_WEIGHT = 1.0
LIFE_STAGE_WEIGHT = 1.0


class KnowledgeBaseError(ValueError):
    """A knowledge-base file is missing, is not valid JSON, or contains an invalid entry."""


@dataclass(frozen=True)
class TalkTrack:
    id: str
    title: str
    script: str
    products: tuple[str, ...]
    variants: tuple[str, ...]
    age_months: tuple[int, int] | None
    life_stages: tuple[LifeStage, ...]
    intents: tuple[Intent, ...]
    keywords: tuple[str, ...]
    for_allergens: tuple[str, ...]


@dataclass(frozen=True)
class KnowledgeBase:
    products: ProductDictionary
    talk_tracks: tuple[TalkTrack, ...]


class TermKind(StrEnum):
    PRODUCT = "product"
    ALLERGEN = "allergen"
    VARIANT = "variant"
    INTENT = "intent"
    KEYWORD = "keyword"
    AGE = "age"
    LIFE_STAGE = "life_stage"


class TermSource(StrEnum):
    # Spoken in the follow-up.
    FOLLOWUP = "followup"
    # From the member's profile: allergen notes, baby's birth date.
    MEMBER = "member"


@dataclass(frozen=True)
class MatchedTerm:
    """One reason a talk track was suggested."""

    kind: TermKind
    # The matched word: a product name, keyword, intent, allergen name, or the age in months.
    term: str
    weight: float
    source: TermSource
    # The span of the follow-up's cleaned text, when the term came from the follow-up.
    span: Span | None


@dataclass(frozen=True)
class TalkTrackMatch:
    track: TalkTrack
    score: float
    matched_terms: tuple[MatchedTerm, ...]


class ExclusionReason(StrEnum):
    ALLERGEN = "allergen"
    AGE = "age"
    LIFE_STAGE = "life_stage"


@dataclass(frozen=True)
class ExcludedTalkTrack:
    track: TalkTrack
    reason: ExclusionReason
    # The allergen and product ("牛奶蛋白: 乳铁蛋白"), the age in months, or the life stage.
    detail: str


@dataclass(frozen=True)
class MemberFacts:
    """Facts from the member's profile that matching uses alongside the follow-up."""

    allergen_notes: str = ""
    baby_age_months: int | None = None
    life_stage: LifeStage | None = None


@dataclass(frozen=True)
class Suggestions:
    # Best first.
    matches: tuple[TalkTrackMatch, ...]
    # Scripts withheld for the member's allergies, age or life stage, so the screen can show why.
    excluded: tuple[ExcludedTalkTrack, ...]


# ---- Loading -------------------------------------------------------------------------------


def load_knowledge_base(directory: Path | str = KNOWLEDGE_DIR, locale: str = DEFAULT_LOCALE) -> KnowledgeBase:
    """Load and cross-check products.<locale>.json and talk_tracks.<locale>.json from `directory`."""
    directory = Path(directory)
    try:
        products = ProductDictionary.load(directory / f"products.{locale}.json")
    except ProductDictionaryError as error:
        raise KnowledgeBaseError(str(error)) from error

    path = directory / f"talk_tracks.{locale}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise KnowledgeBaseError(f"Talk tracks file {path} not found.") from error
    except json.JSONDecodeError as error:
        raise KnowledgeBaseError(f"Talk tracks file {path} is not valid JSON: {error}") from error
    return KnowledgeBase(products, parse_talk_tracks(data, products, source=str(path)))


def parse_talk_tracks(data: Mapping[str, Any], products: ProductDictionary, source: str) -> tuple[TalkTrack, ...]:
    entries = data.get("talk_tracks")
    if not isinstance(entries, list) or not entries:
        raise KnowledgeBaseError(f"{source}: 'talk_tracks' must be a non-empty list.")
    tracks = tuple(_parse_track(entry, products, source) for entry in entries)
    seen: set[str] = set()
    for track in tracks:
        if track.id in seen:
            raise KnowledgeBaseError(f"{source}: duplicate talk track id '{track.id}'.")
        seen.add(track.id)
    return tracks


def _parse_track(entry: Mapping[str, Any], products: ProductDictionary, source: str) -> TalkTrack:
    track_id = entry.get("id")
    if not isinstance(track_id, str) or not track_id:
        raise KnowledgeBaseError(f"{source}: a talk track has no 'id': {entry!r:.80}")
    where = f"{source}: talk track '{track_id}'"

    product_ids = _strings(entry, "products", where)
    unknown = [product_id for product_id in product_ids if product_id not in products.products]
    if unknown:
        raise KnowledgeBaseError(f"{where} names unknown product id(s) {', '.join(unknown)}.")
    known_variants = {variant.name for product_id in product_ids for variant in products.products[product_id].variants}
    variants = _strings(entry, "variants", where)
    if set(variants) - known_variants:
        raise KnowledgeBaseError(f"{where} names variant(s) {', '.join(sorted(set(variants) - known_variants))} that none of its products has.")
    for_allergens = _strings(entry, "for_allergens", where)
    if set(for_allergens) - set(products.allergens):
        raise KnowledgeBaseError(f"{where} names unknown allergen id(s) {', '.join(sorted(set(for_allergens) - set(products.allergens)))}.")

    try:
        age_months = parse_age_range(entry.get("age_months"), source, f"talk track '{track_id}'")
        intents = tuple(Intent(value) for value in _strings(entry, "intents", where))
        life_stages = tuple(LifeStage(value) for value in _strings(entry, "life_stages", where))
    except ValueError as error:
        raise KnowledgeBaseError(f"{where}: {error}") from error

    for key in ("title", "script"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise KnowledgeBaseError(f"{where} needs a non-empty '{key}'.")
    return TalkTrack(
        id=track_id,
        title=entry["title"],
        script=entry["script"],
        products=product_ids,
        variants=variants,
        age_months=age_months,
        life_stages=life_stages,
        intents=intents,
        keywords=_strings(entry, "keywords", where),
        for_allergens=for_allergens,
    )


def _strings(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise KnowledgeBaseError(f"{where}: '{key}' must be a list of non-empty strings, got {value!r}.")
    return tuple(value)


# ---- Matching ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """The facts matching needs, with where each came from."""

    followup: StructuredFollowup
    age_months: int | None
    age_source: TermSource
    life_stage: LifeStage | None
    life_stage_source: TermSource
    # Allergen id -> (name, source, span).
    allergens: dict[str, tuple[str, TermSource, Span | None]]


def suggest_talk_tracks(
    followup: StructuredFollowup,
    knowledge: KnowledgeBase,
    member: MemberFacts | None = None,
    limit: int = DEFAULT_SUGGESTION_COUNT,
) -> Suggestions:
    """Rank the knowledge base's talk tracks for a follow-up; return the best `limit` and the excluded ones.

    Age and life stage from the follow-up win over the member's profile, because the
    clerk may be talking about a second child. Allergies from both count.
    """
    context = _context(followup, knowledge.products, member or MemberFacts())
    matches: list[tuple[TalkTrackMatch, int]] = []
    excluded: list[ExcludedTalkTrack] = []
    for order, track in enumerate(knowledge.talk_tracks):
        exclusion = _exclusion(track, context, knowledge.products)
        if exclusion is not None:
            excluded.append(exclusion)
            continue
        match = _score(track, context)
        if match is not None:
            matches.append((match, order))

    matches.sort(key=lambda item: (-item[0].score, -_product_term_count(item[0]), item[1]))
    return Suggestions(matches=tuple(match for match, _ in matches[:limit]), excluded=tuple(excluded))


def _context(followup: StructuredFollowup, products: ProductDictionary, member: MemberFacts) -> _Context:
    allergens: dict[str, tuple[str, TermSource, Span | None]] = {}
    for mention in products.find_allergens(member.allergen_notes, require_cue=False):
        allergens[mention.allergen_id] = (mention.name, TermSource.MEMBER, None)
    for mention in followup.allergens:
        allergens.setdefault(mention.allergen_id, (mention.name, TermSource.FOLLOWUP, mention.span))

    if followup.baby_age_months is not None:
        age, age_source = followup.baby_age_months, TermSource.FOLLOWUP
    else:
        age, age_source = member.baby_age_months, TermSource.MEMBER
    if followup.life_stage is not None:
        life_stage, life_stage_source = followup.life_stage, TermSource.FOLLOWUP
    else:
        life_stage, life_stage_source = member.life_stage, TermSource.MEMBER
    return _Context(followup, age, age_source, life_stage, life_stage_source, allergens)


def _exclusion(track: TalkTrack, context: _Context, products: ProductDictionary) -> ExcludedTalkTrack | None:
    for product_id in track.products:
        product = products.products[product_id]
        for allergen_id in sorted(product.contains_allergens & context.allergens.keys()):
            allergen_name = context.allergens[allergen_id][0]
            return ExcludedTalkTrack(track, ExclusionReason.ALLERGEN, f"{allergen_name}: {product.name}")

    if context.life_stage is not None:
        if track.life_stages and context.life_stage not in track.life_stages:
            return ExcludedTalkTrack(track, ExclusionReason.LIFE_STAGE, context.life_stage.value)
        if context.life_stage is LifeStage.PREGNANCY and track.age_months is not None and not track.life_stages:
            return ExcludedTalkTrack(track, ExclusionReason.LIFE_STAGE, context.life_stage.value)
    if context.age_months is not None and track.age_months is not None:
        low, high = track.age_months
        if not low <= context.age_months <= high:
            return ExcludedTalkTrack(track, ExclusionReason.AGE, str(context.age_months))
    return None


def _score(track: TalkTrack, context: _Context) -> TalkTrackMatch | None:
    # A script for given life stages (pregnancy) needs the life stage known.
    if track.life_stages and context.life_stage is None:
        return None
    followup = context.followup
    terms: list[MatchedTerm] = []

    counted_spans: list[Span] = []
    for mention in followup.products:
        if mention.product_id in track.products:
            terms.append(MatchedTerm(TermKind.PRODUCT, mention.name, PRODUCT_WEIGHT, TermSource.FOLLOWUP, mention.spans[0]))
            counted_spans.extend(mention.spans)
        if mention.variant is not None and mention.variant in track.variants:
            span = next((s for s in mention.spans if s.text != mention.name), mention.spans[0])
            terms.append(MatchedTerm(TermKind.VARIANT, mention.variant, VARIANT_WEIGHT, TermSource.FOLLOWUP, span))

    for allergen_id in track.for_allergens:
        if allergen_id in context.allergens:
            name, source, span = context.allergens[allergen_id]
            terms.append(MatchedTerm(TermKind.ALLERGEN, name, ALLERGEN_WEIGHT, source, span))

    terms.extend(_keyword_terms(track, followup.text, counted_spans))

    if followup.intent is not None and followup.intent in track.intents:
        span = followup.evidence.get("intent", (None,))[0]
        terms.append(MatchedTerm(TermKind.INTENT, followup.intent.value, INTENT_WEIGHT, TermSource.FOLLOWUP, span))

    qualifying = {term.kind for term in terms}
    qualifies = bool(qualifying & {TermKind.PRODUCT, TermKind.VARIANT, TermKind.ALLERGEN, TermKind.KEYWORD})
    if not track.products and TermKind.INTENT in qualifying:
        qualifies = True
    if not qualifies:
        return None

    terms.extend(_profile_terms(track, context))
    return TalkTrackMatch(track, round(sum(term.weight for term in terms), 2), tuple(terms))


def _keyword_terms(track: TalkTrack, text: str, counted_spans: list[Span]) -> list[MatchedTerm]:
    """Keywords of the track found in the text, longest first, skipping text already counted."""
    terms: list[MatchedTerm] = []
    taken = list(counted_spans)
    for keyword in sorted(track.keywords, key=len, reverse=True):
        start = text.find(keyword)
        if start == -1:
            continue
        span = Span(start, start + len(keyword), keyword)
        if any(span.start < other.end and other.start < span.end for other in taken):
            continue
        if KEYWORD_WEIGHT * (len(terms) + 1) > MAX_KEYWORD_SCORE:
            break
        taken.append(span)
        terms.append(MatchedTerm(TermKind.KEYWORD, keyword, KEYWORD_WEIGHT, TermSource.FOLLOWUP, span))
    return terms


def _profile_terms(track: TalkTrack, context: _Context) -> list[MatchedTerm]:
    """Age and life-stage terms; exclusion has already removed tracks these contradict."""
    terms: list[MatchedTerm] = []
    evidence = context.followup.evidence
    if context.age_months is not None and track.age_months is not None:
        span = evidence.get("baby_age_months", (None,))[0] if context.age_source is TermSource.FOLLOWUP else None
        terms.append(MatchedTerm(TermKind.AGE, str(context.age_months), AGE_WEIGHT, context.age_source, span))
    if context.life_stage is not None and context.life_stage in track.life_stages:
        span = evidence.get("life_stage", (None,))[0] if context.life_stage_source is TermSource.FOLLOWUP else None
        terms.append(MatchedTerm(TermKind.LIFE_STAGE, context.life_stage.value, LIFE_STAGE_WEIGHT, context.life_stage_source, span))
    return terms


def _product_term_count(match: TalkTrackMatch) -> int:
    return sum(1 for term in match.matched_terms if term.kind is TermKind.PRODUCT)
