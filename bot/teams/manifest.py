"""The Teams app package: manifest.json, the two icons and the zip to upload.

No copy of the published Teams manifest JSON schema ships with any installed package, so
`manifest_problems` checks what that schema (v1.17) requires of the fields written here:
required members, GUIDs, the version pattern, lengths, https URLs, the color format, bot
scopes and bare host names in validDomains. The icons are drawn here and written as PNG
with zlib and struct: a key on the accent color (192x192), and the same key as a white
shape on transparency (32x32), as Teams asks.
"""

import json
import math
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.teams.settings import TeamsSettings

MANIFEST_VERSION = "1.17"
SCHEMA_URL = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/v1.17/MicrosoftTeams.schema.json"
)
PACKAGE_NAME = "sspr-bot-teams.zip"
COLOR_ICON, OUTLINE_ICON = "color.png", "outline.png"
COLOR_SIZE, OUTLINE_SIZE = 192, 32

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_VERSION = re.compile(r"^([0-9]|[1-9][0-9]*)\.([0-9]|[1-9][0-9]*)\.([0-9]|[1-9][0-9]*)$")
_HOST = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d+)?$")
_BOT_SCOPES = {"team", "personal", "groupChat", "copilot"}


class ManifestInvalid(ValueError):
    """The generated manifest breaks a rule of the Teams manifest schema."""


def teams_manifest(settings: TeamsSettings, app_id: str) -> dict[str, Any]:
    """The manifest for the bot registered as `app_id`: a personal-scope bot only."""
    developer = settings.developer
    manifest: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": settings.app_version,
        "id": app_id,
        "developer": {
            "name": developer.name,
            "websiteUrl": developer.website_url,
            "privacyUrl": developer.privacy_url,
            "termsOfUseUrl": developer.terms_of_use_url,
        },
        "name": {"short": settings.app_name, "full": settings.app_name},
        "description": {"short": settings.short_description, "full": settings.full_description},
        "icons": {"color": COLOR_ICON, "outline": OUTLINE_ICON},
        "accentColor": settings.accent_color,
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal"],
                "supportsFiles": False,
                "isNotificationOnly": False,
            }
        ],
        "permissions": ["identity"],
        "validDomains": [],
        "webApplicationInfo": {"id": app_id},
    }
    if settings.public_base_url:
        manifest["validDomains"] = [urlsplit(settings.public_base_url).netloc]
    problems = manifest_problems(manifest)
    if problems:
        raise ManifestInvalid("; ".join(problems))
    return manifest


def write_teams_package(settings: TeamsSettings, app_id: str, directory: Path) -> Path:
    """manifest.json, color.png, outline.png and the zip of the three; the zip's path."""
    manifest = teams_manifest(settings, app_id)
    directory.mkdir(parents=True, exist_ok=True)
    rgb = _rgb(settings.accent_color)
    files = {
        "manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(),
        COLOR_ICON: png(COLOR_SIZE, COLOR_SIZE, _color_pixel(rgb)),
        OUTLINE_ICON: png(OUTLINE_SIZE, OUTLINE_SIZE, _outline_pixel),
    }
    for name, content in files.items():
        (directory / name).write_bytes(content)
    package = directory / PACKAGE_NAME
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)  # at the root, as Teams wants them
    return package


def manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """Each rule of the v1.17 schema the manifest breaks, for the fields this bot writes."""
    problems: list[str] = []

    def need(path: str, ok: bool, rule: str) -> None:
        if not ok:
            problems.append(f"{path}: {rule}")

    def text(value: Any, limit: int) -> bool:
        return isinstance(value, str) and 0 < len(value) <= limit

    for field in (
        "manifestVersion",
        "version",
        "id",
        "developer",
        "name",
        "description",
        "icons",
        "accentColor",
    ):
        need(field, field in manifest, "required")
    need(
        "manifestVersion",
        manifest.get("manifestVersion") == MANIFEST_VERSION,
        f"is {MANIFEST_VERSION}",
    )
    need(
        "version",
        isinstance(manifest.get("version"), str) and bool(_VERSION.match(manifest["version"])),
        "MAJOR.MINOR.PATCH",
    )
    need("id", _is_guid(manifest.get("id")), "a GUID")
    developer = manifest.get("developer") or {}
    need("developer.name", text(developer.get("name"), 32), "1-32 characters")
    for url in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        need(f"developer.{url}", _is_https(developer.get(url)), "an https URL")
    name = manifest.get("name") or {}
    need("name.short", text(name.get("short"), 30), "1-30 characters")
    need("name.full", name.get("full") is None or text(name.get("full"), 100), "1-100 characters")
    description = manifest.get("description") or {}
    need("description.short", text(description.get("short"), 80), "1-80 characters")
    need("description.full", text(description.get("full"), 4000), "1-4000 characters")
    icons = manifest.get("icons") or {}
    for icon in ("color", "outline"):
        need(f"icons.{icon}", text(icons.get(icon), 2048), "a file name in the package")
    need(
        "accentColor",
        isinstance(manifest.get("accentColor"), str)
        and bool(re.fullmatch(r"#[0-9a-fA-F]{6}", manifest["accentColor"])),
        "#RRGGBB",
    )
    for index, bot in enumerate(manifest.get("bots") or []):
        need(f"bots[{index}].botId", _is_guid(bot.get("botId")), "a GUID")
        scopes = bot.get("scopes")
        need(
            f"bots[{index}].scopes",
            isinstance(scopes, list)
            and bool(scopes)
            and len(set(scopes)) == len(scopes)
            and set(scopes) <= _BOT_SCOPES,
            f"unique values of {sorted(_BOT_SCOPES)}",
        )
        for flag in ("supportsFiles", "isNotificationOnly"):
            need(f"bots[{index}].{flag}", isinstance(bot.get(flag, False), bool), "a boolean")
    domains = manifest.get("validDomains", [])
    need(
        "validDomains",
        isinstance(domains, list)
        and len(domains) <= 16
        and all(isinstance(d, str) and _HOST.match(d) for d in domains),
        "up to 16 host names without scheme or path",
    )
    web_app = manifest.get("webApplicationInfo")
    if web_app is not None:
        need("webApplicationInfo.id", _is_guid(web_app.get("id")), "a GUID")
    return problems


def png(
    width: int, height: int, pixel: Callable[[float, float], tuple[int, int, int, int]]
) -> bytes:
    """An 8-bit RGBA PNG; `pixel(x, y)` gets the pixel's centre in 0..1 coordinates."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel((x + 0.5) / width, (y + 0.5) / height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def _key_coverage(u: float, v: float, size: int) -> float:
    """How much of the pixel at (u, v) the key covers, 0..1 (3x3 supersampled)."""
    step = 1 / 3 / size
    hits = sum(_in_key(u + i * step, v + j * step) for i in (-1, 0, 1) for j in (-1, 0, 1))
    return hits / 9


def _in_key(u: float, v: float) -> bool:
    # Rotate by 45 degrees about the centre: the key points down to the right.
    c, s = math.cos(math.pi / 4), math.sin(math.pi / 4)
    x = 0.5 + (u - 0.5) * c + (v - 0.5) * s
    y = 0.5 - (u - 0.5) * s + (v - 0.5) * c
    ring = math.hypot(x - 0.3, y - 0.5)
    if 0.075 <= ring <= 0.17:
        return True
    shaft = 0.45 <= x <= 0.84 and 0.465 <= y <= 0.535
    teeth = (0.70 <= x <= 0.75 or 0.78 <= x <= 0.84) and 0.535 <= y <= 0.63
    return shaft or teeth


def _color_pixel(rgb: tuple[int, int, int]) -> Callable[[float, float], tuple[int, int, int, int]]:
    def pixel(u: float, v: float) -> tuple[int, int, int, int]:
        cover = _key_coverage(u, v, COLOR_SIZE)
        r, g, b = (round(channel + (255 - channel) * cover) for channel in rgb)
        return r, g, b, 255

    return pixel


def _outline_pixel(u: float, v: float) -> tuple[int, int, int, int]:
    return 255, 255, 255, round(255 * _key_coverage(u, v, OUTLINE_SIZE))


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _is_guid(value: Any) -> bool:
    return isinstance(value, str) and bool(_GUID.match(value))


def _is_https(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("https://") and len(value) <= 2048
