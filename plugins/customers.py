"""The customer table: look a sender up by account id or email address, in SQLite.

The database file (``database``, relative to the working directory at call
time) is created and filled from ``data/customers.sql`` on first use, atomically,
so a failed seed leaves no half-made table behind. Queries run in a worker
thread over a read-only connection.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
from contextlib import closing
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, ClassVar

from semantic_kernel.functions import kernel_function

DEFAULT_SEED = Path(__file__).with_name("data") / "customers.sql"
_COLUMNS = ("id", "name", "email", "tier", "open_tickets", "notes")


class CustomersPlugin:
    """Reads customers from a SQLite file, seeding it on first use."""

    plugin_name: ClassVar[str] = "customers"

    def __init__(self, *, database: str = "customers.sqlite3", seed: str | None = None) -> None:
        self._database = Path(database)
        self._seed = Path(seed) if seed is not None else DEFAULT_SEED

    @kernel_function(
        name="lookup",
        description=(
            "Look a customer up in the customer table by account id or by the sender's "
            "email address. Returns JSON {found, id, name, email, tier, open_tickets, notes}."
        ),
    )
    async def lookup(
        self,
        customer_id: Annotated[
            str, "the account id the email gives, e.g. C-4821; may be empty"
        ] = "",
        sender: Annotated[
            str, "the sender, e.g. 'Anna Weber <anna@example.com>'; may be empty"
        ] = "",
    ) -> Annotated[str, "JSON {found, id, name, email, tier, open_tickets, notes}"]:
        """The customer whose id is ``customer_id`` or, failing that, whose address is the
        sender's; ``{"found": false, ...}`` when there is none."""
        address = parseaddr(sender)[1] if sender.strip() else ""
        if not customer_id.strip() and not address:
            raise ValueError("customer_id and sender are both empty: give at least one")
        row = await asyncio.to_thread(self._find, customer_id.strip(), address)
        if row is None:
            found: dict[str, Any] = {"found": False, "id": customer_id.strip(), "email": address}
        else:
            found = {"found": True, **dict(zip(_COLUMNS, row, strict=True))}
        return json.dumps(found, ensure_ascii=False, separators=(",", ":"))

    def _find(self, customer_id: str, address: str) -> tuple[Any, ...] | None:
        if not self._database.exists():
            self._create()
        uri = f"{self._database.resolve().as_uri()}?mode=ro"
        query = f"SELECT {', '.join(_COLUMNS)} FROM customers WHERE id = ? OR email = ? "
        query += "ORDER BY id = ? DESC LIMIT 1"
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            row: tuple[Any, ...] | None = connection.execute(
                query, (customer_id, address, customer_id)
            ).fetchone()
        return row

    def _create(self) -> None:
        """Write the seeded database beside its final path, then move it into place."""
        script = self._seed.read_text(encoding="utf-8")
        self._database.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=self._database.parent, prefix=".", suffix=".tmp", delete=False
        ) as file:
            temporary = Path(file.name)
        try:
            with closing(sqlite3.connect(temporary)) as connection:
                connection.executescript(script)
                connection.commit()
            temporary.replace(self._database)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
