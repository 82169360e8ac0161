"""The customers plugin: a real SQLite file, created and seeded on first use."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from plugins.customers import CustomersPlugin


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "customers.sqlite3"


async def test_first_lookup_creates_and_seeds_the_database(database: Path) -> None:
    found = json.loads(await CustomersPlugin(database=str(database)).lookup(customer_id="C-4821"))

    assert found == {
        "found": True,
        "id": "C-4821",
        "name": "Anna Weber",
        "email": "anna@example.com",
        "tier": "gold",
        "open_tickets": 1,
        "notes": "Prefers invoices as PDF.",
    }
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM customers").fetchone() == (4,)
    assert [p.name for p in database.parent.iterdir()] == [database.name]


async def test_a_sender_is_found_by_address_whatever_its_display_name_and_case(
    database: Path,
) -> None:
    plugin = CustomersPlugin(database=str(database))

    found = json.loads(await plugin.lookup(sender="Raj P <RAJ@example.com>"))

    assert (found["found"], found["id"]) == (True, "7781")


async def test_the_account_id_wins_over_the_sender(database: Path) -> None:
    plugin = CustomersPlugin(database=str(database))

    found = json.loads(await plugin.lookup(customer_id="B-310", sender="anna@example.com"))

    assert found["name"] == "Ben Ode"


async def test_an_unknown_customer_is_reported_as_not_found(database: Path) -> None:
    plugin = CustomersPlugin(database=str(database))

    found = json.loads(await plugin.lookup(customer_id="X-1", sender="Zoe <zoe@example.org>"))

    assert found == {"found": False, "id": "X-1", "email": "zoe@example.org"}


async def test_an_existing_database_is_used_as_it_is(database: Path) -> None:
    database.parent.mkdir(parents=True)
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE customers (id, name, email, tier, open_tickets, notes)")
        connection.execute(
            "INSERT INTO customers VALUES ('Z-1', 'Zoe', 'zoe@example.org', 'gold', 0, '')"
        )

    found = json.loads(
        await CustomersPlugin(database=str(database)).lookup(sender="zoe@example.org")
    )

    assert found["id"] == "Z-1"


async def test_a_broken_seed_leaves_no_database_behind(database: Path, tmp_path: Path) -> None:
    seed = tmp_path / "broken.sql"
    seed.write_text("CREATE TABLE customers (id TEXT); INSERT INTO nowhere VALUES (1);")
    plugin = CustomersPlugin(database=str(database), seed=str(seed))

    with pytest.raises(sqlite3.OperationalError, match="no such table: nowhere"):
        await plugin.lookup(customer_id="C-4821")

    assert list(database.parent.iterdir()) == []


async def test_a_lookup_needs_an_id_or_a_sender(database: Path) -> None:
    with pytest.raises(ValueError, match="customer_id and sender are both empty"):
        await CustomersPlugin(database=str(database)).lookup(customer_id=" ", sender="")
