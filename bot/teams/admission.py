"""Who the bot talks to on Teams: allowed tenants, and only in a 1:1 chat.

`admit` is the check an agent runs before a turn. The HTTP layer applies the same tenant
rule earlier (`TenantGate`, which the Bot Framework channel runs), so a foreign tenant is
refused before any state is read; the agent's check keeps the rule even where the adapter
is not in front.

In development mode (no app id) no token is checked, so a tenant id proves nothing: with no
list configured every tenant is admitted, each one with a warning the first time.
"""

import enum
import logging
from collections.abc import Iterable
from typing import Any

from microsoft_agents.activity import Activity

from bot.teams.settings import TeamsSettings

log = logging.getLogger(__name__)

TEAMS_CHANNEL = "msteams"
_GROUP_CONVERSATIONS = frozenset({"groupchat", "channel"})
ANY_TENANT = "*"  # not a tenant id, so never a configured one (they are GUIDs)


class Admission(enum.Enum):
    RUN = "run"  # run the turn
    DECLINE_GROUP = "decline_group"  # answer `private_chat_only` once, run nothing
    REFUSE = "refuse"  # answer nothing, change nothing


class AnyTenant(frozenset[str]):
    """Development mode's allow-list when none is configured: the one entry `ANY_TENANT`.
    It remembers the tenants it admitted, so each one is warned about once; a plain copy
    of it (the HTTP layer keeps one) still admits every tenant, without warning."""

    def __new__(cls) -> "AnyTenant":
        return super().__new__(cls, (ANY_TENANT,))

    def __init__(self) -> None:
        super().__init__()
        self._warned: set[str] = set()

    def admitted(self, tenant: str | None) -> None:
        name = tenant or "none"
        if name not in self._warned:
            self._warned.add(name)
            log.warning(
                "DEVELOPMENT MODE: Teams activity admitted from a tenant no allow-list "
                "names; with an app id only teams.allowed_tenant_ids (or the app's tenant) "
                "is admitted",
                extra={"tenant": name},
            )


def allowed_tenants(
    settings: TeamsSettings, app_tenant_id: str | None, *, authenticated: bool = True
) -> frozenset[str]:
    """The configured allow-list, or the app's own tenant when none is configured. With
    neither, authentication on (a multi-tenant app) admits no Teams tenant (warned), and
    development mode admits every tenant (`AnyTenant`)."""
    if settings.allowed_tenant_ids:
        return frozenset(settings.allowed_tenant_ids)
    if app_tenant_id and app_tenant_id.lower() not in ("common", "organizations"):
        return frozenset({app_tenant_id.lower()})
    if not authenticated:
        return AnyTenant()
    log.warning("no Teams tenant is allowed: set teams.allowed_tenant_ids")
    return frozenset()


def tenant_of(channel_data: Any) -> str | None:
    """`channelData.tenant.id` from an activity's channel data (a dict or a model)."""
    if channel_data is None:
        return None
    data = channel_data if isinstance(channel_data, dict) else _as_dict(channel_data)
    tenant = data.get("tenant")
    if isinstance(tenant, dict) and isinstance(tenant.get("id"), str):
        return str(tenant["id"]).lower()
    return None


def tenant_allowed(channel_id: str | None, channel_data: Any, tenants: Iterable[str]) -> bool:
    """Teams activities must come from an allowed tenant; other channels carry none."""
    if channel_id != TEAMS_CHANNEL:
        return True
    tenant = tenant_of(channel_data)
    if isinstance(tenants, AnyTenant):
        tenants.admitted(tenant)
        return True
    allowed = set(tenants)
    if ANY_TENANT in allowed:
        return True
    return tenant is not None and tenant in allowed


class TenantGate:
    """The tenant rule as the Bot Framework channel runs it on every request, before any
    state is read: other channels pass, a Teams activity from a foreign tenant is refused."""

    def __init__(self, tenants: Iterable[str]) -> None:
        self._tenants = tenants

    def __call__(self, channel_id: str | None, channel_data: Any) -> bool:
        if tenant_allowed(channel_id, channel_data, self._tenants):
            return True
        log.warning("Teams tenant not allowed", extra={"tenant": tenant_of(channel_data) or "none"})
        return False


def admit(activity: Activity, tenants: Iterable[str]) -> Admission:
    if not tenant_allowed(str(activity.channel_id or ""), activity.channel_data, tenants):
        log.warning(
            "Teams activity from a tenant that is not allowed refused",
            extra={"tenant": tenant_of(activity.channel_data) or "none"},
        )
        return Admission.REFUSE
    conversation = activity.conversation
    kind = (conversation.conversation_type or "").casefold() if conversation else ""
    if kind in _GROUP_CONVERSATIONS or (conversation is not None and conversation.is_group):
        log.info("message in a shared conversation declined", extra={"conversation": kind})
        return Admission.DECLINE_GROUP
    return Admission.RUN


def _as_dict(model: Any) -> dict[str, Any]:
    dump = getattr(model, "model_dump", None)
    if callable(dump):
        value = dump(by_alias=True, exclude_none=True)
        return value if isinstance(value, dict) else {}
    return {}
