"""UI text catalog in Simplified Chinese (the default) and English.

Every string a screen shows comes from here. Each message id maps to a pair
(zh-CN, en), so no message can lack a language. Placeholders use str.format
names: t("list.count", shown=50, total=120).
"""

import logging
from datetime import datetime, timedelta, timezone
from typing import Final

from mobile.messages import battle, checkin, store

log = logging.getLogger(__name__)

LOCALES: Final = ("zh-CN", "en")
DEFAULT_LOCALE: Final = "zh-CN"

_BASE_CATALOG: Final[dict[str, tuple[str, str]]] = {
    "app.title": ("外勤通", "Field Sales"),
    "app.tagline": ("外勤销售助手", "Your field sales companion"),
    # Names of the languages, each written in its own language.
    "language.zh-CN": ("中文", "中文"),
    "language.en": ("English", "English"),
    "language.menu": ("切换语言", "Language"),
    # Sign-in screen
    "login.title": ("登录", "Sign in"),
    "login.hint": ("请使用公司账号登录", "Sign in with your company account"),
    "login.login_label": ("用户名或手机号", "Username or phone"),
    "login.password_label": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.signing_in": ("正在登录…", "Signing in…"),
    "login.missing_fields": ("请输入用户名或手机号，以及密码", "Enter your username or phone, and your password"),
    "login.wrong_credentials": ("用户名/手机号或密码错误", "Wrong username/phone or password"),
    "login.disabled": ("该账号已停用，请联系管理员", "This account is disabled: ask an administrator"),
    # Errors shown for a failed request
    "error.unreachable": ("无法连接服务器，请检查网络后重试", "Cannot reach the server. Check the network and try again"),
    "error.timeout": ("服务器响应超时，请稍后重试", "The server did not respond in time. Try again later"),
    "error.server": ("服务器出错，请稍后重试", "The server failed to handle the request. Try again later"),
    "error.forbidden": ("您没有权限查看这些内容", "Your role has no access to this"),
    "error.not_found": ("未找到：可能已删除，或不在您的权限范围内", "Not found: it was removed or is outside your access"),
    "error.session_expired": ("登录已过期，请重新登录", "Your session expired. Sign in again"),
    "error.request_failed": ("请求失败：{detail}", "Request failed: {detail}"),
    # Shared controls
    "common.retry": ("重试", "Retry"),
    "common.back": ("返回", "Back"),
    "common.loading": ("加载中…", "Loading…"),
    "common.load_more": ("加载更多", "Load more"),
    "common.sign_out": ("退出登录", "Sign out"),
    "common.account": ("账号", "Account"),
    # Home screens, by role
    "home.rep": ("我的客户", "My customers"),
    "home.regional_lead": ("区域客户", "Region customers"),
    "home.admin": ("全部客户", "All customers"),
    "home.members": ("门店会员", "Store members"),
    "home.customers": ("客户", "Customers"),
    # Lists
    "list.search_customers": ("搜索客户名称、城市或区县", "Search by name, city or district"),
    "list.search_members": ("搜索会员姓名或会员码", "Search by name or member code"),
    "list.count": ("共 {total} 条，已显示 {shown} 条", "Showing {shown} of {total}"),
    "list.no_match": ("没有与“{query}”匹配的记录", "Nothing matches “{query}”"),
    "list.empty_customers": ("暂无客户", "No customers yet"),
    "list.empty_members": ("暂无会员", "No members yet"),
    # Member rows
    "member.code": ("会员码 {code}", "Member code {code}"),
    "member.baby_age": ("宝宝 {months} 个月", "Baby {months} months old"),
    "member.no_birth_date": ("未登记宝宝生日", "No baby birth date"),
    "member.allergens": ("注意：{allergens}", "Allergies: {allergens}"),
    # Customer detail
    "customer.title": ("客户详情", "Customer"),
    "customer.industry": ("行业", "Industry"),
    "customer.address": ("地址", "Address"),
    "customer.owner": ("负责人", "Owner"),
    "customer.region": ("区域", "Region"),
    "customer.contacts": ("联系人", "Contacts"),
    "customer.no_contacts": ("暂无联系人", "No contacts yet"),
    "customer.visits": ("最近拜访", "Recent visits"),
    "customer.no_visits": ("暂无拜访记录", "No visits yet"),
    "customer.not_checked_out": ("未签退", "not checked out"),
    "customer.unknown": ("未填写", "Not set"),
    "customer.followups": ("跟进记录", "Follow-ups"),
    "customer.no_followups": ("暂无跟进记录", "No follow-ups yet"),
    "customer.followup_label": ("一句话跟进", "One-line follow-up"),
    "customer.followup_save": ("保存跟进", "Save follow-up"),
    "customer.followup_saved": ("已保存，联网后自动同步", "Saved; it syncs when the network is back"),
    "customer.followup_empty": ("请先输入跟进内容", "Type the follow-up first"),
    "customer.pending_changes": ("{count} 条修改待同步", "{count} change(s) waiting to sync"),
    "customer.rejected": ("服务器拒绝了您的修改：{reason}", "The server rejected your change: {reason}"),
    "customer.conflict": (
        "“{field}”被同时修改：保留了“{won}”，“{lost}”被覆盖",
        "“{field}” was edited on two devices: “{won}” was kept, “{lost}” was overwritten",
    ),
    # Sync status
    "sync.pending": ("{count} 条待同步", "{count} waiting to sync"),
    "sync.synced_at": ("已同步 {time}", "Synced {time}"),
    "sync.never": ("尚未同步", "Not synced yet"),
    "sync.syncing": ("正在同步…", "Syncing…"),
    "sync.offline": ("离线", "Offline"),
    "sync.error": ("同步失败，稍后自动重试", "Sync failed; retrying automatically"),
    "sync.rejected": ("{count} 条被拒绝", "{count} rejected"),
    "sync.rejected_title": ("被服务器拒绝的修改", "Changes the server rejected"),
    "sync.rejected_none": ("没有被拒绝的修改", "No rejected changes"),
    "sync.download": ("首次下载数据：{received}/{total}", "First download: {received} of {total}"),
    "sync.download_unknown": ("首次下载数据：{received}", "First download: {received}"),
    "sync.now": ("立即同步", "Sync now"),
    "common.close": ("关闭", "Close"),
    # Values of Contact.decision_role
    "entity.customers": ("客户", "Customer"),
    "entity.contacts": ("联系人", "Contact"),
    "entity.visits": ("拜访", "Visit"),
    "entity.followups": ("跟进", "Follow-up"),
    "field.phone": ("电话", "Phone"),
    "field.name": ("名称", "Name"),
    "field.industry": ("行业", "Industry"),
    "field.address": ("地址", "Address"),
    "field.title": ("职务", "Title"),
    "decision_role.technical": ("技术决策", "Technical"),
    "decision_role.purchasing": ("采购决策", "Purchasing"),
    "decision_role.finance": ("财务决策", "Finance"),
    "decision_role.other": ("其他", "Other"),
    # Values of Visit.visit_type
    "visit_type.routine": ("例行拜访", "Routine visit"),
    "visit_type.demo": ("产品演示", "Demo"),
    "visit_type.follow_up": ("跟进", "Follow-up"),
    "visit_type.service": ("售后服务", "Service"),
    # Values of User.role
    "role.rep": ("销售代表", "Sales rep"),
    "role.clerk": ("店员", "Store clerk"),
    "role.store_manager": ("店长", "Store manager"),
    "role.regional_lead": ("区域经理", "Regional lead"),
    "role.admin": ("管理员", "Administrator"),
}


def _merge_catalogs() -> dict[str, tuple[str, str]]:
    catalog = dict(_BASE_CATALOG)
    for module in (checkin, battle, store):
        for key, entry in module.MESSAGES.items():
            if key in catalog:
                raise ValueError(f"UI message id {key!r} is defined twice; rename the one in {module.__name__}")
            catalog[key] = entry
    return catalog


_CATALOG: Final = _merge_catalogs()


class Translator:
    """Looks up UI text in one locale; each app session has its own."""

    def __init__(self, locale: str = DEFAULT_LOCALE, utc_offset_hours: float = 8) -> None:
        self.locale = locale
        # Time zone in which times are shown.
        self.timezone = timezone(timedelta(hours=utc_offset_hours))

    @property
    def locale(self) -> str:
        return self._locale

    @locale.setter
    def locale(self, value: str) -> None:
        if value not in LOCALES:
            raise ValueError(f"Unsupported locale '{value}'; use one of {', '.join(LOCALES)}.")
        self._locale = value

    def t(self, key: str, **kwargs: object) -> str:
        """Return the text of message `key` in the current locale, with `kwargs` filled in."""
        entry = _CATALOG.get(key)
        if entry is None:
            log.error("missing UI text for message id %r", key)
            return key
        text = entry[LOCALES.index(self._locale)]
        return text.format(**kwargs) if kwargs else text

    def format_time(self, moment: datetime | None, with_date: bool = True) -> str:
        """Format a timestamp in the display time zone; one without a zone is taken as UTC."""
        if moment is None:
            return ""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(self.timezone).strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")

    def label(self, group: str, value: str) -> str:
        """Return the display name of a stored code such as decision_role 'finance'.

        Codes without a catalog entry are shown as stored, so data from a newer
        server still displays.
        """
        key = f"{group}.{value}"
        return self.t(key) if key in _CATALOG else value

