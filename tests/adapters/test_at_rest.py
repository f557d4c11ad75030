"""Enrolled TOTP secrets are encrypted with a configured key, or the published demo key."""

import pytest
from cryptography.fernet import Fernet

from adapters.directory.at_rest import (
    DEMO_ENCRYPTION_KEY,
    EncryptionKey,
    InvalidEncryptionKey,
    SecretUnreadable,
    hash_password,
    is_argon2id_hash,
    password_matches,
)


def test_without_the_variable_the_demo_key_is_used_and_flagged() -> None:
    assert EncryptionKey.from_env({}).is_demo
    assert EncryptionKey.from_env({"SSPR_ENCRYPTION_KEY": "  "}).is_demo
    assert EncryptionKey.from_env({"SSPR_ENCRYPTION_KEY": DEMO_ENCRYPTION_KEY}).is_demo


def test_a_configured_key_is_not_the_demo_key() -> None:
    key = EncryptionKey.from_env({"SSPR_ENCRYPTION_KEY": Fernet.generate_key().decode()})
    assert not key.is_demo
    token = key.encrypt("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in token
    assert key.decrypt(token) == "JBSWY3DPEHPK3PXP"


def test_an_invalid_key_is_refused_without_repeating_it() -> None:
    with pytest.raises(InvalidEncryptionKey) as refused:
        EncryptionKey.from_env({"SSPR_ENCRYPTION_KEY": "hunter2-not-a-key"})
    assert "SSPR_ENCRYPTION_KEY" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_a_secret_from_another_key_is_unreadable() -> None:
    token = EncryptionKey.demo().encrypt("JBSWY3DPEHPK3PXP")
    with pytest.raises(SecretUnreadable):
        EncryptionKey(Fernet.generate_key()).decrypt(token)
    with pytest.raises(SecretUnreadable):
        EncryptionKey.demo().decrypt("not a token")


def test_password_hashes() -> None:
    password_hash = hash_password("correct horse battery staple")
    assert is_argon2id_hash(password_hash)
    assert password_matches(password_hash, "correct horse battery staple")
    assert not password_matches(password_hash, "Correct horse battery staple")
    assert not password_matches("garbage", "correct horse battery staple")
    assert not is_argon2id_hash("garbage")
