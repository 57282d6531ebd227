"""Users by id, email or name (revops.people): exact id first, then a unique email or name."""

from __future__ import annotations

import pytest

from revops.people import UnknownUser, User, match_user

PEOPLE = [
    User("0055gST", "Santiago Torres", "santiago@co.com", True),
    User("u2", "Ana Torres", "ana@co.com", True),
    User("u3", "Ana Torres", None, False),
    User("Ana Torres", "Somebody Else", None, True),  # an id that reads like a name
]


@pytest.mark.parametrize(
    ("text", "user_id"),
    [
        ("0055gST", "0055gST"),
        ("Santiago Torres", "0055gST"),
        ("  santiago   TORRES ", "0055gST"),
        ("SANTIAGO@co.com", "0055gST"),
        ("ana@co.com", "u2"),
        ("Ana Torres", "Ana Torres"),  # an exact id wins over two names
    ],
)
def test_ids_emails_and_unique_names_resolve(text: str, user_id: str) -> None:
    assert match_user(PEOPLE, text) == user_id


def test_an_ambiguous_name_lists_the_candidates() -> None:
    with pytest.raises(UnknownUser) as err:
        match_user(PEOPLE, "ana torres")
    assert str(err.value) == (
        "2 users are called 'ana torres': Ana Torres <ana@co.com> u2; "
        "Ana Torres <no email> u3 (inactive); give an id or email"
    )


def test_an_unknown_user_suggests_close_names() -> None:
    with pytest.raises(UnknownUser, match=r"no user 'Torres' .*did you mean Santiago Torres"):
        match_user(PEOPLE, "Torres")
