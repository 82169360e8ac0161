"""Mail for plans: read ``.eml`` files from an inbox folder, send through SMTP or an outbox.

Without ``smtp_host`` nothing leaves the machine: ``send`` writes each message
to the outbox folder, atomically, where a person or a test can inspect it.
Relative folder paths are taken from the working directory at call time.
Every file opened is confined to its folder: an inbox entry that is a link to
somewhere outside the inbox is not listed and not read.

``send`` takes the host's idempotency key (:data:`host.effects.IDEMPOTENCY_KEY`):
under a key, the outbox file is named by the key and written once, and the SMTP
``Message-ID`` is derived from it, so a send run again after a crash does not
write a second file, and a mail client or server that drops messages with a
duplicate ``Message-ID`` shows one.
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import json
import os
import smtplib
import tempfile
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Annotated, Any, ClassVar
from uuid import uuid4

from semantic_kernel.functions import kernel_function

from host.effects import side_effects

_FORBIDDEN_IN_ADDRESS = set(",;<>\"'()[]\\")
_RECEIPT_HEADERS = {"to": "To", "subject": "Subject", "message_id": "Message-ID"}


def _check_address(value: str, argument: str) -> str:
    """``value`` as one plain ``local@domain`` address; a ValueError names ``argument``."""
    address = value.strip()
    local, _, domain = address.partition("@")
    if (
        address.count("@") != 1
        or not local
        or not domain
        or not address.isascii()
        or any(char.isspace() or not char.isprintable() for char in address)
        or _FORBIDDEN_IN_ADDRESS.intersection(address)
    ):
        raise ValueError(
            f"{argument} {value!r} is not an email address: expected one address "
            "in ASCII like name@example.com, on one line"
        )
    return address


def _confined(folder: Path, path: Path) -> Path | None:
    """``path`` with links followed, if that is a file inside ``folder`` (already resolved)."""
    real = path.resolve()
    return real if real.is_relative_to(folder) and real.is_file() else None


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class EmailPlugin:
    """An inbox folder to read and an SMTP server or outbox folder to send to."""

    plugin_name: ClassVar[str] = "email"

    def __init__(
        self,
        *,
        inbox: str = "inbox",
        outbox: str = "outbox",
        smtp_host: str | None = None,
        smtp_port: int = 25,
        sender: str = "agent-host@localhost",
        timeout: float = 10.0,
    ) -> None:
        if not 0 < smtp_port < 65536:
            raise ValueError(f"smtp_port must be a TCP port (1-65535), got {smtp_port!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self._inbox = Path(inbox)
        self._outbox = Path(outbox)
        self._smtp_host = smtp_host
        self._smtp_port = smtp_port
        self._sender = _check_address(sender, "sender")
        self._timeout = timeout

    @kernel_function(
        name="list_inbox",
        description=(
            "List the messages in the inbox, sorted by id. "
            "Returns JSON [{id, from, subject, date}]; pass an id to read_message."
        ),
    )
    def list_inbox(self) -> Annotated[str, "JSON [{id, from, subject, date}]"]:
        """Headers of every ``.eml`` file in the inbox, sorted by id (file stem)."""
        inbox = self._inbox.resolve()
        if not inbox.is_dir():
            return "[]"
        rows = []
        for path in sorted(inbox.glob("*.eml"), key=lambda p: p.stem):
            inside = _confined(inbox, path)
            if inside is None:
                continue
            message = self._parse(inside)
            rows.append(
                {
                    "id": path.stem,
                    "from": str(message["From"] or ""),
                    "subject": str(message["Subject"] or ""),
                    "date": str(message["Date"] or ""),
                }
            )
        return _compact(rows)

    @kernel_function(
        name="read_message",
        description=(
            "Read one inbox message by its id (from list_inbox). Returns JSON "
            "{id, from, reply_to, to, subject, date, body}; reply_to is the plain address "
            "a reply goes to, body the plain-text part."
        ),
    )
    def read_message(
        self,
        message_id: Annotated[str, "the message id, as listed by list_inbox"],
    ) -> Annotated[str, "JSON {id, from, reply_to, to, subject, date, body}"]:
        """One message's headers, the bare address to reply to (``Reply-To``, else
        ``From``; "" when neither has one) and its ``text/plain`` body ("" when it has none)."""
        message = self._parse(self._message_path(message_id))
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if isinstance(part, EmailMessage) else ""
        return _compact(
            {
                "id": message_id,
                "from": str(message["From"] or ""),
                "reply_to": parseaddr(str(message["Reply-To"] or message["From"] or ""))[1],
                "to": str(message["To"] or ""),
                "subject": str(message["Subject"] or ""),
                "date": str(message["Date"] or ""),
                "body": body,
            }
        )

    @side_effects
    @kernel_function(
        name="send",
        description=(
            "Send a plain-text email to one address. Returns JSON {status, ...}: "
            "status 'sent' (delivered to the SMTP server) or 'written' (saved to the "
            "outbox folder at path, when no SMTP server is configured)."
        ),
    )
    async def send(
        self,
        to: Annotated[str, "the recipient's address, e.g. name@example.com"],
        subject: Annotated[str, "the subject line (one line)"],
        body: Annotated[str, "the message text"],
        idempotency_key: Annotated[str, "filled by the host; leave empty"] = "",
    ) -> Annotated[str, "JSON {status: 'sent'|'written', to, subject, message_id, path?}"]:
        """Send one message; without ``idempotency_key`` every call sends again.

        Under a key the outbox file is written once (a second send finds it and
        writes nothing) and the ``Message-ID`` is the same each time. This has
        side effects: a result must never be cached in place of a call. SMTP
        failures propagate as ``smtplib.SMTPException`` or ``OSError``.
        """
        digest = (
            hashlib.sha256(idempotency_key.encode()).hexdigest()[:32] if idempotency_key else None
        )
        message = self._compose(to, subject, body, digest)
        receipt = {name: str(message[header]) for name, header in _RECEIPT_HEADERS.items()}
        if self._smtp_host is None:
            path = await asyncio.to_thread(self._write, message, digest)
            return _compact({"status": "written", "path": str(path), **receipt})
        await asyncio.to_thread(self._deliver, self._smtp_host, message)
        return _compact(
            {"status": "sent", "smtp": f"{self._smtp_host}:{self._smtp_port}", **receipt}
        )

    def _message_path(self, message_id: str) -> Path:
        if (
            not message_id
            or message_id in {".", ".."}
            or any(char in message_id for char in "/\\\0")
        ):
            raise ValueError(
                f"message_id {message_id!r} is not a message id: expected a file name "
                "without path separators, as listed by list_inbox"
            )
        inbox = self._inbox.resolve()
        path = inbox / f"{message_id}.eml"
        if not path.is_file():
            raise ValueError(
                f"message_id {message_id!r} is not in the inbox {str(self._inbox)!r} "
                "(list_inbox gives the ids)"
            )
        inside = _confined(inbox, path)
        if inside is None:
            raise ValueError(
                f"message_id {message_id!r} links to a file outside the inbox "
                f"{str(self._inbox)!r}: refused"
            )
        return inside

    @staticmethod
    def _parse(path: Path) -> EmailMessage:
        with path.open("rb") as file:
            return email.message_from_binary_file(file, policy=policy.default)

    def _compose(self, to: str, subject: str, body: str, digest: str | None) -> EmailMessage:
        recipient = _check_address(to, "to")
        if "\r" in subject or "\n" in subject:
            raise ValueError(f"subject {subject!r} must be a single line")
        if not body.strip():
            raise ValueError("body must not be empty")
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        domain = self._sender.partition("@")[2]
        message["Message-ID"] = f"<{digest}@{domain}>" if digest else make_msgid(domain=domain)
        message.set_content(body)
        return message

    def _write(self, message: EmailMessage, digest: str | None) -> Path:
        """Write to the outbox, named by ``digest`` (else a unique name), never overwriting.

        A file of that name already there is the message this key wrote before: it
        is kept as it is. Readers never see a partial file.
        """
        data = message.as_bytes()
        outbox = self._outbox.resolve()
        outbox.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = outbox / f"{digest or f'{stamp}-{uuid4().hex}'}.eml"
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise ValueError(
                f"outbox entry {target.name!r} is not a file the outbox wrote: refused"
            )
        with tempfile.NamedTemporaryFile(
            dir=outbox, prefix=".", suffix=".tmp", delete=False
        ) as file:
            temporary = Path(file.name)
        try:
            temporary.write_bytes(data)
            os.link(temporary, target)
        except FileExistsError:
            pass  # written by an earlier send under this key: kept as it is
        finally:
            temporary.unlink(missing_ok=True)
        return target

    def _deliver(self, host: str, message: EmailMessage) -> None:
        with smtplib.SMTP(host, self._smtp_port, timeout=self._timeout) as smtp:
            smtp.send_message(message)
