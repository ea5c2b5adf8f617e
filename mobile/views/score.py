"""Health score display: band colours, score badges, trend, and the customer detail's score section ("why this score").

Everything here reads the synced score snapshot on the device, so it works offline.
"""

import uuid
import weakref

import flet as ft

from core.bands import GREEN, RED, UNSCORED, YELLOW, band_of_snapshot
from mobile.i18n import Translator
from mobile.offline.directory import BattleMapData, ScoreReasons
from mobile.offline.store import LocalStore
from mobile.views import Shell

BAND_COLORS = {
    RED: ft.Colors.RED_600,
    YELLOW: ft.Colors.AMBER_600,
    GREEN: ft.Colors.GREEN_600,
    UNSCORED: ft.Colors.GREY_500,
}
# Text on a band colour: amber needs dark text to stay readable.
BAND_TEXT_COLORS = {RED: ft.Colors.WHITE, YELLOW: ft.Colors.BLACK, GREEN: ft.Colors.WHITE, UNSCORED: ft.Colors.WHITE}

_data_by_store: "weakref.WeakKeyDictionary[LocalStore, BattleMapData]" = weakref.WeakKeyDictionary()


def battle_data(shell: Shell) -> BattleMapData:
    """Return the battle-map data source of the signed-in user's local store (one per store)."""
    store = shell.store
    if store is None:
        raise RuntimeError("the battle map needs a signed-in user with a local store")
    data = _data_by_store.get(store)
    if data is None:
        data = BattleMapData(store, shell.api)
        _data_by_store[store] = data
    return data


def clauses_route(customer_id: uuid.UUID) -> str:
    return f"/customers/{customer_id}/clauses"


def intervention_route(customer_id: uuid.UUID) -> str:
    return f"/customers/{customer_id}/intervention"


def format_number(value: float) -> str:
    """Format a score or delta with at most 2 decimals and no trailing zeros.

    Scores are stored rounded to 2 decimals, so a red 59.99 shows as 59.99 and never as 60.
    """
    return f"{value:.2f}".rstrip("0").rstrip(".")


def band_label(tr: Translator, band: str) -> str:
    return tr.t(f"battle.band.{band}")


def trend_text(tr: Translator, trend: float | None) -> str:
    if trend is None:
        return tr.t("battle.trend_first")
    if trend > 0:
        return tr.t("battle.trend_up", delta=format_number(trend))
    if trend < 0:
        return tr.t("battle.trend_down", delta=format_number(-trend))
    return tr.t("battle.trend_flat")


def trend_icon(trend: float | None) -> ft.Icon:
    if trend is None:
        return ft.Icon(ft.Icons.FIBER_NEW_OUTLINED, size=18, color=ft.Colors.ON_SURFACE_VARIANT)
    if trend == 0:
        return ft.Icon(ft.Icons.TRENDING_FLAT, size=18, color=ft.Colors.ON_SURFACE_VARIANT)
    if trend > 0:
        return ft.Icon(ft.Icons.TRENDING_UP, size=18, color=ft.Colors.GREEN_700)
    return ft.Icon(ft.Icons.TRENDING_DOWN, size=18, color=ft.Colors.RED_700)


def score_badge(tr: Translator, score: float | None, band: str | None, size: float = 52) -> ft.Control:
    """Build a rounded box in the band's colour showing the score, with the band and score as its semantics label."""
    shown_band = band_of_snapshot(band, score)
    text = format_number(score) if score is not None else "—"
    label = f"{band_label(tr, shown_band)} {text}" if score is not None else band_label(tr, shown_band)
    return ft.Container(
        ft.Text(text, size=13 if size < 60 else 22, weight=ft.FontWeight.W_600, color=BAND_TEXT_COLORS[shown_band],
                semantics_label=label, no_wrap=True),
        width=size,
        height=size * 0.62,
        bgcolor=BAND_COLORS[shown_band],
        border_radius=8,
        alignment=ft.Alignment.CENTER,
    )


def score_section(shell: Shell, customer) -> list[ft.Control]:
    """Build the customer detail's health-score section: score, band, trend, indicator contributions, next step."""
    if shell.store is None:
        return []
    tr = shell.tr
    customer_id = customer.summary.id
    reasons = battle_data(shell).score_reasons_now(customer_id)
    title = _section_title(tr.t("battle.section_title"))
    if reasons is None:
        return [title, ft.Container(ft.Text(tr.t("battle.no_score_detail"), color=ft.Colors.ON_SURFACE_VARIANT), padding=ft.Padding.only(left=4))]

    band = band_of_snapshot(reasons.band, reasons.score)
    return [title, _score_card(shell, reasons, band), *_next_step(shell, customer_id, band)]


def _score_card(shell: Shell, reasons: ScoreReasons, band: str) -> ft.Control:
    tr = shell.tr
    header = ft.Row(
        [
            score_badge(tr, reasons.score, reasons.band, size=96),
            ft.Column(
                [
                    ft.Text(band_label(tr, band), weight=ft.FontWeight.W_600, color=BAND_COLORS[band]),
                    ft.Row([trend_icon(reasons.trend), ft.Text(trend_text(tr, reasons.trend), size=13)], spacing=4),
                    ft.Text(
                        tr.t("battle.computed_at", time=tr.format_time(reasons.computed_at), version=reasons.model_version or "?"),
                        size=12, color=ft.Colors.ON_SURFACE_VARIANT,
                    ),
                ],
                spacing=4,
                expand=True,
            ),
        ],
        spacing=16,
        vertical_alignment=ft.CrossAxisAlignment.CENTER,
    )
    notes = []
    if reasons.missing_policy in ("redistribute", "zero") and reasons.unknown:
        notes.append(ft.Text(tr.t(f"battle.policy.{reasons.missing_policy}"), size=12, color=ft.Colors.ON_SURFACE_VARIANT))
    if reasons.boosted:
        notes.append(ft.Text(tr.t("battle.boosted"), size=12, color=ft.Colors.ON_SURFACE_VARIANT))

    return ft.Card(
        ft.Container(
            ft.Column(
                [
                    header,
                    ft.Text(tr.t("battle.why"), weight=ft.FontWeight.W_600),
                    *[_indicator_row(tr, indicator) for indicator in reasons.indicators],
                    *notes,
                ],
                spacing=10,
            ),
            padding=16,
        ),
        margin=0,
    )


def _indicator_row(tr: Translator, indicator) -> ft.Control:
    name = tr.label("battle.indicator", indicator.name)
    value = tr.t("battle.indicator_unknown") if indicator.value is None else f"{indicator.value * 100:.0f}%"
    details = [tr.t("battle.indicator_value", value=value)]
    if indicator.effective_weight is not None:
        details.append(tr.t("battle.indicator_weight", weight=f"{indicator.effective_weight * 100:.1f}%"))
    # The bar is the share of the indicator's own weight that the customer earned.
    earned = 0.0 if indicator.value is None else max(0.0, min(1.0, indicator.value))
    return ft.Column(
        [
            ft.Row(
                [
                    ft.Text(name, expand=True, size=14),
                    ft.Text(tr.t("battle.points", points=format_number(indicator.contribution)), size=14, weight=ft.FontWeight.W_600),
                ],
            ),
            ft.ProgressBar(value=earned, height=4, color=ft.Colors.PRIMARY, bgcolor=ft.Colors.SURFACE_CONTAINER_HIGHEST),
            ft.Text(" · ".join(details), size=12, color=ft.Colors.ON_SURFACE_VARIANT),
        ],
        spacing=2,
    )


def _next_step(shell: Shell, customer_id: uuid.UUID, band: str) -> list[ft.Control]:
    """Build the next-step button: the contract-clause library for a green customer, the churn intervention checklist for a red one."""
    tr = shell.tr
    if band == GREEN:
        label, icon, route = tr.t("battle.open_clauses"), ft.Icons.GAVEL, clauses_route(customer_id)
    elif band == RED:
        label, icon, route = tr.t("battle.open_intervention"), ft.Icons.HEALTH_AND_SAFETY_OUTLINED, intervention_route(customer_id)
    else:
        return []

    async def open_route(_event: ft.Event) -> None:
        await shell.go(route)

    button = ft.FilledButton(label, icon=icon, on_click=open_route,
                             style=ft.ButtonStyle(bgcolor=BAND_COLORS[band], color=BAND_TEXT_COLORS[band]))
    return [ft.Row([button], alignment=ft.MainAxisAlignment.END)]


def _section_title(text: str) -> ft.Control:
    return ft.Container(
        ft.Text(text, size=16, weight=ft.FontWeight.W_600, color=ft.Colors.PRIMARY),
        padding=ft.Padding.only(left=4, top=12),
    )
