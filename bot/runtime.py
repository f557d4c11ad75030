"""The composition root: the one place that decides which implementation serves each port.

Everything is built from the settings and the secrets a command read at start
(`bot.secrets`), handed down explicitly and closed in reverse order; no module keeps a
global, and none reads the process environment.
"""

import logging
import shutil
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from importlib.resources import as_file, files
from pathlib import Path

from aiohttp import TCPConnector, web

from adapters.audit import Audit, AuditObserver, AuditSink, AuditTrail, JsonlFile, StdoutLines
from adapters.delivery.outbox import Console
from adapters.directory import Directory
from adapters.directory.at_rest import EncryptionKey
from adapters.directory.cache import CachedDirectory
from adapters.directory.embedded import EmbeddedDirectory
from adapters.directory.graph import open_graph_directory
from adapters.directory.ldap import open_ldap_directory
from adapters.pwned import breach_check
from adapters.tickets.opening import open_ticket_system
from bot.audit_streams import configured_stream
from bot.botframework.agent import Identify, ResetAgent, development_identity, entra_identity
from bot.botframework.auth import (
    ChannelCloudAdapter,
    channel_keys_from_environment,
    service_url_validator,
    signing_keys_from,
)
from bot.botframework.connector_pool import PooledClientFactory
from bot.botframework.credentials import BotFrameworkAuth
from bot.botframework.outbound import Outbound
from bot.botframework.proactive import BotFrameworkNotifier
from bot.conversations import Conversations
from bot.delivery import open_senders
from bot.dialog_versions import DialogVersions
from bot.handoff import HandOff, add_handoff_routes, handoff_secret
from bot.http_app import create_app
from bot.keys import code_key
from bot.metrics import Metrics, add_metrics_route
from bot.password_page import ChatNotifier, PasswordPage, add_password_page_routes
from bot.reach import ChannelNotifier, ChannelReach, teams_new_chats
from bot.report.admin import admin_report
from bot.report.routes import add_report_routes
from bot.settings import Settings
from bot.slack.channel import SlackChannel
from bot.slack.routes import add_slack_routes
from bot.slack.settings import SlackSecrets
from bot.teams import TenantGate, allowed_tenants
from bot.teams.agent import TeamsResetAgent
from bot.turns import TurnRunner
from bot.webchat import WebChat, add_webchat_routes
from bot.webchat.client_address import ClientAddresses
from dialogs import Background, Catalog, DialogPorts, ResetDialog
from dialogs.registered_directory import RegisteredDirectory
from dialogs.registry import MethodRegistry
from dialogs.reminders import Reminders
from dialogs.tickets import TicketDesk
from state import Clock, RedisStore, Store, SystemClock, open_store

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    secrets: Mapping[str, str]
    clock: Clock
    store: Store
    directory: Directory  # the directory itself; verification reads it with `registry`
    registry: MethodRegistry  # the methods people registered in chat
    audit: Audit  # the audit trail, for commands that change things outside a conversation
    catalog: Catalog  # the dialog's words, and the channels' and pages' own
    dialog: ResetDialog  # the one the rules at start run; see `versions` for the running ones
    versions: DialogVersions  # the dialog by the rules each conversation began under
    conversations: Conversations
    runner: TurnRunner
    connector: TCPConnector  # every outbound HTTP call of the channels shares this pool
    exits: AsyncExitStack
    reach: ChannelReach  # people's own chats, for notices; channels join it as they are built
    background: Background  # the one pool of work that outlives its message
    tickets: TicketDesk  # the helpdesk's tickets about accounts
    metrics: Metrics  # this runtime's own Prometheus registry

    async def close(self) -> None:
        await self.background.close()
        await self.exits.aclose()


async def start_runtime(
    settings: Settings,
    *,
    secrets: Mapping[str, str],
    clock: Clock | None = None,
    console: Console | None = None,
) -> Runtime:
    """Everything the bot needs, opened. `settings.server` names the address served: when
    `public_url` is not set, password page links are made from its host and port, so a
    caller that listens elsewhere (`serve --port`) passes the address it actually got.
    `secrets`: what the command read from the environment at start (`bot.secrets`)."""
    clock = clock or SystemClock()
    data_dir = Path(settings.data_dir)
    background = Background()
    exits = AsyncExitStack()
    try:
        store = await open_store(settings.state, data_dir=data_dir, clock=clock, environ=secrets)
        exits.push_async_callback(store.close)
        if isinstance(store, RedisStore) and (warning := await store.persistence_warning()):
            log.warning(warning)
        key = encryption_key(secrets)
        directory = await open_directory(settings, secrets, key=key)
        exits.push_async_callback(directory.close)
        registry = MethodRegistry(store, key, clock)
        sender = await open_senders(
            settings.delivery,
            secrets,
            data_dir=data_dir,
            outbox_path=settings.local_path(settings.delivery.outbox.path),
            console=console,
            graph=settings.directory.graph,
        )
        exits.push_async_callback(sender.close)
        metrics = Metrics()
        audit = open_audit(settings, secrets, counters=metrics.audit)
        exits.push_async_callback(audit.close)
        reach = ChannelReach(store)
        dialog_settings = settings.dialog()
        tickets = TicketDesk(
            None
            if settings.tickets is None
            else open_ticket_system(settings.tickets, secrets, base_dir=data_dir),
            directory=directory,
            store=store,
            clock=clock,
            audit=audit,
            background=background,
            timeout=dialog_settings.helpdesk.handoff_timeout,
            lockout=dialog_settings.limits.lockout,
        )
        exits.push_async_callback(tickets.close)
        breaches = breach_check(**dialog_settings.password.pwned.model_dump())
        exits.push_async_callback(breaches.close)
        ports = DialogPorts(
            directory=RegisteredDirectory(directory, registry),
            sender=sender,
            store=store,
            audit=audit,
            clock=clock,
            code_key=code_key(secrets, data_dir),
            reach=reach,
            background=background,
            registry=registry,
            tickets=tickets,
            breaches=breaches,
        )
        catalog = Catalog(dialog_settings.messages, settings.default_locale)
        build = partial(
            ResetDialog, ports=ports, catalog=catalog, password_page=settings.server.password_page
        )
        versions = DialogVersions(dialog_settings, build, clock)
        dialog = versions.current.dialog
        conversations = Conversations(store, versions, clock)
    except BaseException:
        await exits.aclose()
        raise
    connector = TCPConnector(limit=100, keepalive_timeout=60)
    exits.push_async_callback(connector.close)
    return Runtime(
        settings,
        secrets,
        clock,
        store,
        directory,
        registry,
        audit,
        catalog,
        dialog,
        versions,
        conversations,
        TurnRunner(versions, conversations, catalog.reply, metrics=metrics),
        connector,
        exits,
        reach,
        background,
        tickets,
        metrics,
    )


async def open_directory(
    settings: Settings, environ: Mapping[str, str], *, key: EncryptionKey | None = None
) -> Directory:
    """The configured directory, opened; DirectoryUnavailable naming what is wrong. `key`:
    the one TOTP secrets are encrypted with, when the caller read it already."""
    section = settings.directory
    remote: Directory
    if section.kind == "graph":
        assert section.graph is not None
        base_dir = Path(settings.data_dir)
        remote = await open_graph_directory(section.graph, environ, base_dir=base_dir)
    elif section.kind == "ldap":
        assert section.ldap is not None
        remote = await open_ldap_directory(section.ldap, environ)
    else:
        return await _open_embedded(settings, key or encryption_key(environ))
    if section.cache_seconds == 0:
        return remote
    return CachedDirectory(remote, ttl=section.cache_seconds)


def open_audit(
    settings: Settings, environ: Mapping[str, str], *, counters: AuditObserver | None = None
) -> AuditTrail:
    """The audit trail on its configured sinks; the Redis stream only when Redis is the
    store, on the store's server, so every instance writes the one stream. `counters`: the
    metrics that count each event as it is written."""
    section = settings.audit
    sinks: list[AuditSink] = []
    if "file" in section.sinks:
        sinks.append(JsonlFile(settings.local_path(section.path)))
    if "stdout" in section.sinks:
        sinks.append(StdoutLines())
    if "stream" in section.sinks and settings.state.backend == "redis":
        sinks.append(configured_stream(settings, environ))
    return AuditTrail(sinks, () if counters is None else (counters,))


def encryption_key(environ: Mapping[str, str]) -> EncryptionKey:
    """The key TOTP secrets are kept with (the embedded directory's and those registered in
    chat), read once; loud when it is the published demo key."""
    key = EncryptionKey.from_env(environ)
    if key.is_demo:
        log.warning(
            "SSPR_ENCRYPTION_KEY is not set: TOTP secrets use the PUBLISHED demo key. "
            "Set your own key before enrolling real people."
        )
    return key


async def _open_embedded(settings: Settings, key: EncryptionKey) -> EmbeddedDirectory:
    path = settings.local_path(settings.directory.embedded.path)
    if not path.exists() and settings.directory.embedded.seed_demo:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with as_file(files("config").joinpath("demo-directory.yaml")) as demo:
            shutil.copyfile(demo, path)
        path.chmod(0o600)
        log.warning("created the demo directory", extra={"path": str(path)})
    return await EmbeddedDirectory.open(path, key=key)


def http_application(runtime: Runtime, auth: BotFrameworkAuth) -> web.Application:
    """The served app: Bot Framework channels (development mode trusts the channel's user
    id, otherwise Entra's) and, when enabled, Slack directly; the helpdesk's hand-off when its
    secret is set, with the sweep that gives back hand-offs nobody finished. Reminders, when
    enabled, start here, once the reach has its channels, and
    stop when the runtime closes."""
    identify = development_identity if auth.development else entra_identity
    adapter, agent = bot_framework_adapter(runtime, auth, identify)
    outbound = Outbound(auth.connections, runtime.connector)
    runtime.exits.push_async_callback(outbound.close)
    app = create_app(
        adapter=adapter,
        agent=agent,
        auth=auth,
        catalog=runtime.catalog,
        store=runtime.store,
        outbound=outbound,
    )
    slack: SlackChannel | None = None
    if runtime.settings.slack.enabled:
        slack = slack_channel(runtime)
        add_slack_routes(app, slack)
    if runtime.settings.webchat.enabled:
        webchat = WebChat(
            runtime.settings.webchat,
            runner=runtime.runner,
            store=runtime.store,
            catalog=runtime.catalog,
            connector=runtime.connector,
            secrets=runtime.secrets,
            clock=runtime.clock,
            secure_cookies=runtime.settings.server.base_url.startswith("https://"),
        )
        add_webchat_routes(app, webchat)
    bot_framework = BotFrameworkNotifier(outbound, auth.app_id, runtime.store)
    # Teams knows people by their Entra object id; a directory over LDAP has no such ids.
    new_chats = (
        None
        if runtime.settings.directory.kind == "ldap"
        else teams_new_chats(adapter, auth, runtime.settings.teams)
    )
    runtime.reach.add_bot_framework(bot_framework, new_chats)
    if slack is not None:
        runtime.reach.add_slack(slack)
    if (secret := handoff_secret(runtime.secrets)) is not None:
        handoff = HandOff(
            secret,
            directory=runtime.directory,
            reach=runtime.reach,
            store=runtime.store,
            audit=runtime.audit,
            catalog=runtime.catalog,
            clock=runtime.clock,
            tickets=runtime.tickets,
        )
        add_handoff_routes(app, handoff)
        runtime.tickets.start()
    notifier = ChannelNotifier(bot_framework, slack)
    page = password_page(runtime, notifier, webchat_served=runtime.settings.webchat.enabled)
    add_password_page_routes(app, page)
    if (report := admin_report(runtime.settings, runtime.secrets)) is not None:
        add_report_routes(app, report)
    if runtime.settings.metrics.enabled:
        add_metrics_route(app, runtime.metrics, runtime.secrets)
    dialog_settings = runtime.settings.dialog()
    if dialog_settings.enrolment.reminders.enabled:
        reminders = Reminders(
            dialog_settings,
            directory=RegisteredDirectory(runtime.directory, runtime.registry),
            reach=runtime.reach,
            store=runtime.store,
            clock=runtime.clock,
            catalog=runtime.catalog,
        )
        reminders.start()
        runtime.exits.push_async_callback(reminders.close)
    return app


def slack_channel(runtime: Runtime) -> SlackChannel:
    """Slack directly, on the runtime's shared parts; SlackMisconfigured naming a secret
    that is missing."""
    return SlackChannel(
        runtime.settings.slack,
        secrets=SlackSecrets.from_env(runtime.secrets),
        runner=runtime.runner,
        store=runtime.store,
        message=runtime.catalog.reply,
        connector=runtime.connector,
        background=runtime.background,
        clock=runtime.clock,
    )


def password_page(
    runtime: Runtime, notifier: ChatNotifier, *, webchat_served: bool
) -> PasswordPage:
    """The password page, telling the chat a reset ran in through `notifier`."""
    return PasswordPage(
        runtime.versions,
        runtime.conversations,
        notifier,
        catalog=runtime.catalog,
        webchat_served=webchat_served,
        addresses=ClientAddresses(runtime.settings.webchat),
    )


def bot_framework_adapter(
    runtime: Runtime, auth: BotFrameworkAuth, identify: Identify
) -> tuple[ChannelCloudAdapter, ResetAgent]:
    factory = PooledClientFactory(auth.connections, runtime.connector)
    tenants = allowed_tenants(
        runtime.settings.teams, auth.configuration.TENANT_ID, authenticated=not auth.development
    )
    keys = channel_keys_from_environment(runtime.secrets)
    runtime.exits.push_async_callback(keys.close)
    secrets = runtime.secrets
    if secrets.get("BotOpenIdMetadata") or secrets.get("ToBotFromEmulatorOpenIdMetadataUrl"):
        runtime.exits.enter_context(signing_keys_from(keys))
    adapter = ChannelCloudAdapter(
        channel_service_client_factory=factory,
        keys=keys,
        admits=TenantGate(tenants),
        host_validator=service_url_validator(
            auth.app_id, runtime.settings.teams.extra_service_origins
        ),
    )
    agent = TeamsResetAgent(runtime.runner, identify, tenants=tenants, store=runtime.store)
    return adapter, agent
