"""Security answers match however they are typed, and only through the hash."""

import pytest

from adapters.directory.answers import answer_matches, hash_answer, normalise_answer


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("New York", "new york"),
        ("  NEW   york \t\n", "new york"),
        (
            "\uff2e\uff25\uff37\u3000\uff39\uff2f\uff32\uff2b",
            "new york",
        ),  # full-width letters, ideographic space
        ("new\u00a0york", "new york"),  # no-break space
        ("\ufb01sh", "fish"),  # the "fi" ligature
        ("Straße", "strasse"),
    ],
)
def test_normalise_answer(typed: str, normalised: str) -> None:
    assert normalise_answer(typed) == normalised


def test_a_hashed_answer_matches_however_it_is_typed() -> None:
    answer_hash = hash_answer("New York")
    assert answer_hash.startswith("$argon2id$")
    assert "york" not in answer_hash.casefold()
    assert answer_matches(answer_hash, "  new   YORK ")
    assert not answer_matches(answer_hash, "Newark")


@pytest.mark.parametrize("bad_hash", ["", "New York", "$argon2id$v=19$m=1", "$2b$12$abc"])
def test_a_malformed_hash_never_matches_and_never_raises(bad_hash: str) -> None:
    assert not answer_matches(bad_hash, "New York")
