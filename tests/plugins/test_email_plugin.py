"""Specification of the ``email`` plugin: an inbox folder, an outbox folder, and SMTP."""

import asyncio
import email
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from semantic_kernel import Kernel
from semantic_kernel.functions import KernelArguments

from plugins.email import EmailPlugin

OUTBOX_NAME = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{32}\.eml")


def write_eml(
    inbox: Path, message_id: str, *, sender: str, subject: str, body: str, html: str | None = None
) -> None:
    """Put one message into ``inbox`` as ``<message_id>.eml``."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "agent@example.com"
    message["Subject"] = subject
    message["Date"] = "Mon, 15 Jan 2024 09:30:00 +0800"
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / f"{message_id}.eml").write_bytes(message.as_bytes())


def parse(data: bytes) -> EmailMessage:
    message: EmailMessage = email.message_from_bytes(data, policy=policy.default)
    return message


def files_in(folder: Path) -> list[Path]:
    """Every file in ``folder``, hidden ones included; none when it does not exist."""
    return sorted(folder.iterdir()) if folder.exists() else []


def inode(path: str) -> int:
    """The file's inode number: a file replaced by a new one gets another."""
    return Path(path).stat().st_ino


def plain_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    content: str = part.get_content()
    return content


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return tmp_path / "inbox"


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def mail(inbox: Path, outbox: Path) -> EmailPlugin:
    return EmailPlugin(inbox=str(inbox), outbox=str(outbox), sender="agent@example.com")


def test_list_inbox_gives_each_message_header_sorted_by_id(mail: EmailPlugin, inbox: Path) -> None:
    write_eml(inbox, "002-report", sender="Bo <bo@example.com>", subject="Report", body="…")
    write_eml(inbox, "001-weather", sender="al@example.com", subject="上海天气", body="Sunny")
    (inbox / "notes.txt").write_text("not a message", encoding="utf-8")

    assert json.loads(mail.list_inbox()) == [
        {
            "id": "001-weather",
            "from": "al@example.com",
            "subject": "上海天气",
            "date": "Mon, 15 Jan 2024 09:30:00 +0800",
        },
        {
            "id": "002-report",
            "from": "Bo <bo@example.com>",
            "subject": "Report",
            "date": "Mon, 15 Jan 2024 09:30:00 +0800",
        },
    ]


def test_a_missing_inbox_is_empty(mail: EmailPlugin) -> None:
    assert json.loads(mail.list_inbox()) == []


@pytest.mark.parametrize("html", [None, "<p>Rain</p>"], ids=["plain", "alternative"])
def test_read_message_gives_headers_and_the_plain_text_body(
    mail: EmailPlugin, inbox: Path, html: str | None
) -> None:
    write_eml(
        inbox, "001", sender="al@example.com", subject="Forecast", body="Rain expected", html=html
    )

    message = json.loads(mail.read_message("001"))

    assert message == {
        "id": "001",
        "from": "al@example.com",
        "reply_to": "al@example.com",
        "to": "agent@example.com",
        "subject": "Forecast",
        "date": "Mon, 15 Jan 2024 09:30:00 +0800",
        "body": "Rain expected\n",
    }


def test_read_message_gives_the_bare_address_to_reply_to(mail: EmailPlugin, inbox: Path) -> None:
    write_eml(inbox, "001", sender="Al Ode <al@example.com>", subject="Hi", body="Hello")

    message = json.loads(mail.read_message("001"))

    assert (message["from"], message["reply_to"]) == ("Al Ode <al@example.com>", "al@example.com")


@pytest.mark.parametrize("message_id", ["../secret", "sub/001", "..\\secret", "..", ".", ""])
def test_read_message_rejects_ids_that_are_paths(
    mail: EmailPlugin, inbox: Path, tmp_path: Path, message_id: str
) -> None:
    write_eml(tmp_path, "secret", sender="x@example.com", subject="Secret", body="do not read")
    write_eml(inbox / "sub", "001", sender="x@example.com", subject="Nested", body="do not read")

    with pytest.raises(ValueError, match="without path separators"):
        mail.read_message(message_id)


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("target", "inside"),
    [("elsewhere/secret.eml", False), ("inbox/001.eml", True), ("inbox/sub/002.eml", True)],
)
def test_a_linked_message_is_listed_and_read_only_when_its_file_is_in_the_inbox(
    mail: EmailPlugin, inbox: Path, tmp_path: Path, target: str, inside: bool
) -> None:
    write_eml(inbox, "001", sender="al@example.com", subject="Hi", body="Hello")
    write_eml(inbox / "sub", "002", sender="al@example.com", subject="Nested", body="Hi")
    write_eml(tmp_path / "elsewhere", "secret", sender="x@example.com", subject="S", body="no")
    (inbox / "link.eml").symlink_to(tmp_path / target)

    listed = [row["id"] for row in json.loads(mail.list_inbox())]

    assert listed == (["001", "link"] if inside else ["001"])
    if inside:
        assert json.loads(mail.read_message("link"))["subject"] in {"Hi", "Nested"}
    else:
        with pytest.raises(
            ValueError, match=r"message_id 'link' links to a file outside the inbox"
        ):
            mail.read_message("link")


def test_a_linked_inbox_folder_is_the_inbox(tmp_path: Path) -> None:
    write_eml(tmp_path / "real", "001", sender="al@example.com", subject="Hi", body="Hello")
    (tmp_path / "inbox").symlink_to(tmp_path / "real")
    mail = EmailPlugin(inbox=str(tmp_path / "inbox"))

    assert [row["id"] for row in json.loads(mail.list_inbox())] == ["001"]
    assert json.loads(mail.read_message("001"))["body"] == "Hello\n"


def test_read_message_rejects_an_unknown_id(mail: EmailPlugin, inbox: Path) -> None:
    write_eml(inbox, "001", sender="al@example.com", subject="Hi", body="Hello")

    with pytest.raises(ValueError, match=r"message_id '002' is not in the inbox"):
        mail.read_message("002")


async def test_send_without_smtp_writes_one_parseable_message_to_the_outbox(
    mail: EmailPlugin, outbox: Path
) -> None:
    receipt = json.loads(await mail.send("bo@example.com", "Weather: 上海", "Sunny, 9.7 °C"))

    written = Path(receipt["path"])
    [path] = files_in(outbox)
    message = parse(path.read_bytes())
    assert receipt["status"] == "written"
    assert path == written
    assert OUTBOX_NAME.fullmatch(written.name)
    assert (message["From"], message["To"], message["Subject"]) == (
        "agent@example.com",
        "bo@example.com",
        "Weather: 上海",
    )
    assert message["Message-ID"] == receipt["message_id"]
    assert plain_body(message) == "Sunny, 9.7 °C\n"


async def test_every_send_writes_a_new_message(mail: EmailPlugin, outbox: Path) -> None:
    first = json.loads(await mail.send("bo@example.com", "Hi", "Hello"))
    second = json.loads(await mail.send("bo@example.com", "Hi", "Hello"))

    assert first["path"] != second["path"]
    assert first["message_id"] != second["message_id"]
    assert len(files_in(outbox)) == 2


@pytest.mark.reliability
async def test_sends_under_one_key_write_one_message_with_one_message_id(
    mail: EmailPlugin, outbox: Path
) -> None:
    first = json.loads(await mail.send("bo@example.com", "Hi", "Hello", "run/notify"))
    written = inode(first["path"])
    again = json.loads(await mail.send("bo@example.com", "Hi", "Hello", "run/notify"))
    other = json.loads(await mail.send("bo@example.com", "Hi", "Hello", "run/notify#2"))

    assert (again["path"], again["message_id"]) == (first["path"], first["message_id"])
    assert other["message_id"] != first["message_id"]
    assert len(files_in(outbox)) == 2
    assert inode(first["path"]) == written, "the first file was not written again"


@pytest.mark.reliability
async def test_a_send_under_a_key_refuses_an_outbox_entry_it_did_not_write(
    mail: EmailPlugin, outbox: Path, tmp_path: Path
) -> None:
    await mail.send("bo@example.com", "Hi", "Hello", "run/notify")
    [written] = files_in(outbox)
    written.unlink()
    elsewhere = tmp_path / "elsewhere.eml"
    elsewhere.write_text("kept")
    written.symlink_to(elsewhere)

    with pytest.raises(ValueError, match="is not a file the outbox wrote"):
        await mail.send("bo@example.com", "Hi", "Hello", "run/notify")
    assert elsewhere.read_text() == "kept"


@pytest.mark.parametrize(
    "to",
    [
        "bo@example.com\r\nBcc: eve@example.com",
        "bo@example.com\nBcc: eve@example.com",
        "bo@example.com, eve@example.com",
        "Bo <bo@example.com>",
        "bo example.com",
        "bo@ex@ample.com",
        "@example.com",
        "bo@",
        "bö@example.com",
        "",
    ],
)
async def test_send_rejects_anything_but_one_plain_address(
    mail: EmailPlugin, outbox: Path, to: str
) -> None:
    with pytest.raises(ValueError, match=r"^to .* is not an email address"):
        await mail.send(to, "Hi", "Hello")
    assert files_in(outbox) == []


@pytest.mark.parametrize(
    ("subject", "body", "problem"),
    [
        ("Hi\r\nBcc: eve@example.com", "Hello", "subject .* must be a single line"),
        ("Hi\nBcc: eve@example.com", "Hello", "subject .* must be a single line"),
        ("Hi", "  \n", "body must not be empty"),
    ],
)
async def test_send_rejects_a_multiline_subject_or_an_empty_body(
    mail: EmailPlugin, outbox: Path, subject: str, body: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        await mail.send("bo@example.com", subject, body)
    assert files_in(outbox) == []


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"sender": "agent"}, "sender 'agent' is not an email address"),
        ({"smtp_port": 0}, "smtp_port must be a TCP port"),
        ({"smtp_port": 70000}, "smtp_port must be a TCP port"),
        ({"timeout": 0}, "timeout must be a positive number of seconds"),
    ],
)
def test_bad_settings_are_rejected_by_name(settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        EmailPlugin(**settings)


@dataclass
class Delivery:
    """One message as an SMTP server received it, stored with ``\\n`` line ends."""

    mail_from: str
    rcpt_to: list[str]
    data: bytes


@dataclass
class LoopbackSmtpServer:
    """Just enough SMTP (RFC 5321) to accept messages on 127.0.0.1 and keep them."""

    deliveries: list[Delivery] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await reply("220 loopback ESMTP")
        mail_from, rcpt_to = "", []
        while line := await reader.readline():
            command = line.decode().rstrip("\r\n")
            verb = command[:4].upper()
            if verb in {"EHLO", "HELO"}:
                await reply("250 loopback")
            elif verb == "MAIL":
                mail_from = command.partition(":")[2].strip(" <>")
                await reply("250 OK")
            elif verb == "RCPT":
                rcpt_to.append(command.partition(":")[2].strip(" <>"))
                await reply("250 OK")
            elif verb == "DATA":
                await reply("354 end data with <CR><LF>.<CR><LF>")
                lines = []
                while (data_line := await reader.readline()) != b".\r\n":
                    lines.append(data_line[1:] if data_line.startswith(b".") else data_line)
                data = b"".join(lines).replace(b"\r\n", b"\n")
                self.deliveries.append(Delivery(mail_from, rcpt_to, data))
                mail_from, rcpt_to = "", []
                await reply("250 OK queued")
            elif verb == "QUIT":
                await reply("221 bye")
                break
            elif verb in {"RSET", "NOOP"}:
                await reply("250 OK")
            else:
                await reply("502 command not implemented")
        writer.close()
        await writer.wait_closed()


@pytest.fixture
async def smtp_server() -> AsyncIterator[LoopbackSmtpServer]:
    server = LoopbackSmtpServer()
    await server.start()
    yield server
    await server.stop()


async def test_send_with_smtp_delivers_the_message(
    smtp_server: LoopbackSmtpServer, outbox: Path
) -> None:
    mail = EmailPlugin(
        outbox=str(outbox),
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        sender="agent@example.com",
    )

    receipt = json.loads(await mail.send("bo@example.com", "Weather: 上海", ".hidden?\nSunny"))

    [delivery] = smtp_server.deliveries
    message = parse(delivery.data)
    assert receipt["status"] == "sent"
    assert (delivery.mail_from, delivery.rcpt_to) == ("agent@example.com", ["bo@example.com"])
    assert (message["Subject"], message["Message-ID"]) == ("Weather: 上海", receipt["message_id"])
    assert plain_body(message) == ".hidden?\nSunny\n"
    assert files_in(outbox) == []


@pytest.mark.reliability
async def test_smtp_sends_under_one_key_carry_one_message_id(
    smtp_server: LoopbackSmtpServer,
) -> None:
    mail = EmailPlugin(smtp_host="127.0.0.1", smtp_port=smtp_server.port)

    for key in ["run/notify", "run/notify", "run/other"]:
        await mail.send("bo@example.com", "Hi", "Hello", key)

    ids = [parse(delivery.data)["Message-ID"] for delivery in smtp_server.deliveries]
    assert ids[0] == ids[1] != ids[2]


async def test_send_with_an_unreachable_smtp_server_raises(closed_port: int, outbox: Path) -> None:
    mail = EmailPlugin(outbox=str(outbox), smtp_host="127.0.0.1", smtp_port=closed_port)

    with pytest.raises(ConnectionRefusedError):
        await mail.send("bo@example.com", "Hi", "Hello")
    assert files_in(outbox) == []


async def test_the_kernel_sees_the_parameters_and_invokes_with_them(
    mail: EmailPlugin, outbox: Path
) -> None:
    kernel = Kernel()
    kernel.add_plugin(mail, EmailPlugin.plugin_name)
    function = kernel.get_function("email", "send")

    result = await kernel.invoke(
        plugin_name="email",
        function_name="send",
        arguments=KernelArguments(to="bo@example.com", subject="Hi", body="Hello"),
    )

    assert result is not None and json.loads(result.value)["status"] == "written"
    assert len(files_in(outbox)) == 1
    assert [(p.name, p.type_, p.is_required) for p in function.metadata.parameters] == [
        ("to", "str", True),
        ("subject", "str", True),
        ("body", "str", True),
        ("idempotency_key", "str", False),
    ]
    assert all(p.description for p in function.metadata.parameters)
