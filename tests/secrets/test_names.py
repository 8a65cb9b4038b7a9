"""Secret names are made on the server side from our own ids, nothing else."""

from __future__ import annotations

import pytest

from shared.secrets import (
    InvalidSecretName,
    check_secret_name,
    database_secret_name,
    server_secret_name,
)


def test_names_from_ids() -> None:
    assert server_secret_name("prod-pg") == "server-prod-pg"
    assert database_secret_name("shop-7") == "database-shop-7"
    assert check_secret_name("server-prod-pg") == "server-prod-pg"


@pytest.mark.parametrize(
    "bad", ["", "Prod", "a/b", "../x", "a b", "a'b", "-lead", "x" * 64, "ok\n", None]
)
def test_ids_outside_the_alphabet_are_refused(bad: str) -> None:
    with pytest.raises(InvalidSecretName):
        server_secret_name(bad)
    with pytest.raises(InvalidSecretName):
        database_secret_name(bad)


@pytest.mark.parametrize("name", ["prod-pg", "other-x", "server-", "server-A", "server-a/b"])
def test_stores_accept_only_our_names(name: str) -> None:
    with pytest.raises(InvalidSecretName):
        check_secret_name(name)
