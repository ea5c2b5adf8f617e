"""WeCom and DingTalk group-robot messages: request bodies, DingTalk signing, and parsing the robot's response.

Both robots take a JSON POST to their webhook URL and respond with HTTP 200 and
{"errcode": 0, "errmsg": "ok"} on success. A non-zero errcode (for example a rate-limit
error) is a failed delivery. Both allow 20 messages per minute per robot; DingTalk throttles
a robot that sends more for 10 minutes, so the delivery worker batches alerts into digests.
"""

import base64
import hashlib
import hmac
import json
import urllib.parse
from dataclasses import dataclass

from server.alerts.models import ChannelKind

# Digests stay under this many bytes of UTF-8 text. WeCom's group-robot documentation limits a
# text message to 2,048 bytes; markdown is documented separately and this stays below both.
MAX_DIGEST_BYTES = 2000


def dingtalk_signed_url(webhook_url: str, secret: str, timestamp_ms: int) -> str:
    """Append DingTalk's signature: base64 of HMAC-SHA256 over "timestamp\\nsecret" keyed by the secret, URL-encoded."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    separator = "&" if "?" in webhook_url else "?"
    return f"{webhook_url}{separator}timestamp={timestamp_ms}&sign={sign}"


def message_body(kind: str, title: str, text: str) -> dict:
    """Build the JSON body of a markdown message for a robot of `kind` (wecom or dingtalk)."""
    if kind == ChannelKind.WECOM.value:
        return {"msgtype": "markdown", "markdown": {"content": text}}
    if kind == ChannelKind.DINGTALK.value:
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    raise ValueError(f"unknown robot kind {kind!r}; expected wecom or dingtalk")


@dataclass(frozen=True)
class RobotResponse:
    ok: bool
    error: str | None = None


def parse_response(status_code: int, body: bytes) -> RobotResponse:
    """Tell success (HTTP 200 and errcode 0) from failure."""
    if status_code != 200:
        return RobotResponse(False, f"HTTP {status_code}: {body[:200].decode(errors='replace')}")
    try:
        parsed = json.loads(body)
    except ValueError:
        return RobotResponse(False, f"response is not JSON: {body[:200].decode(errors='replace')}")
    if not isinstance(parsed, dict):
        return RobotResponse(False, f"response is not a JSON object: {str(parsed)[:200]}")
    errcode = parsed.get("errcode")
    if errcode != 0:
        return RobotResponse(False, f"errcode {errcode}: {str(parsed.get('errmsg', ''))[:200]}")
    return RobotResponse(True)


def pack_digests(lines: list[tuple[object, str]], header: str, max_bytes: int = MAX_DIGEST_BYTES) -> list[tuple[list, str]]:
    """Group (alert id, line) pairs into digest texts of at most `max_bytes`; `header` may contain $count.

    A line too long for a digest on its own is cut to fit, so every alert is delivered.
    """
    digests: list[tuple[list, str]] = []
    ids: list = []
    body: list[str] = []

    def size(count: int, extra: list[str]) -> int:
        return len("\n".join([header.replace("$count", str(count)), *extra]).encode())

    for alert_id, line in lines:
        if body and size(len(ids) + 1, [*body, line]) > max_bytes:
            digests.append((ids, "\n".join([header.replace("$count", str(len(ids))), *body])))
            ids, body = [], []
        room = max_bytes - size(1, [""])
        if len(line.encode()) > room:
            line = line.encode()[: max(room - 3, 0)].decode(errors="ignore") + "..."
        ids.append(alert_id)
        body.append(line)
    if ids:
        digests.append((ids, "\n".join([header.replace("$count", str(len(ids))), *body])))
    return digests
