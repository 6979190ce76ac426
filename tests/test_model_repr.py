"""Model reprs are safe to log; the classes still behave as frozen attrs classes.

Metadata (any free-form object) shows only its size, lists longer than three
items only their length, secrets not at all, at every level of nesting.
"""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import weakref
from typing import Any

import attrs
import cattrs
import pytest

from clerk_async._convert import structure, unstructure
from clerk_async.models import (
    TOTP,
    CreateUserParams,
    EmailAddress,
    OAuthAccessToken,
    TotalCount,
    UnknownVerification,
    User,
)
from clerk_async.models._runtime import REPR_MAX_ITEMS

from factories import user_json

SECRET = "cus_SECRET_4242"


def _email(n: int) -> dict[str, Any]:
    return {
        "id": f"idn_{n}", "object": "email_address", "email_address": f"u{n}@example.com",
        "reserved": False, "linked_to": [], "created_at": 1, "updated_at": 2,
        "verification": {"object": "verification_quantum", "status": "x", "secret": SECRET},
    }


def _user(emails: int = 12) -> User:
    data = user_json(
        public_metadata={"plan": SECRET},
        private_metadata={"stripe": SECRET, "a": 1, "b": 2},
        unsafe_metadata={"note": SECRET},
        email_addresses=[_email(n) for n in range(emails)],
    )
    data["saml_accounts"] = []
    return structure(data, User)


def test_user_repr_and_str_hide_metadata_and_summarise_long_lists() -> None:
    user = _user()
    for text in (repr(user), str(user)):
        assert SECRET not in text
        assert "private_metadata=<3 keys>" in text
        assert "public_metadata=<1 key>" in text
        assert "email_addresses=<12 items>" in text
        assert text.startswith("User(id='user_1', object='user'")
        assert len(text) < 1200


def test_nested_objects_summarise_too() -> None:
    user = _user(emails=2)
    text = repr(user)
    assert "email_addresses=[EmailAddress(id='idn_0'" in text
    assert SECRET not in text  # the unknown verification's raw payload is summarised
    assert "raw=<3 keys>" in text
    assert SECRET not in repr(user.email_addresses[0].verification)
    assert isinstance(user.email_addresses[0].verification, UnknownVerification)


def test_short_lists_print_in_full_up_to_the_threshold() -> None:
    user = _user(emails=REPR_MAX_ITEMS)
    assert repr(user).count("EmailAddress(") == REPR_MAX_ITEMS
    assert f"email_addresses=<{REPR_MAX_ITEMS + 1} items>" in repr(_user(REPR_MAX_ITEMS + 1))


def test_secrets_never_print() -> None:
    params = CreateUserParams(password="hunter2-" + SECRET, backup_codes=["c1", "c2"])
    text = repr(params)
    assert SECRET not in text and "c1" not in text
    assert "password=<hidden>" in text and "first_name=UNSET" in text
    token = OAuthAccessToken(
        object="oauth_access_token", external_account_id="eac_1", provider_user_id="p",
        token="tok_" + SECRET, provider="oauth_google", public_metadata={}, label=None,
    )
    assert SECRET not in repr(token)
    totp = TOTP(object="totp", id="totp_1", secret=SECRET, uri="otpauth://x?secret=" + SECRET,
                verified=False, backup_codes=None)
    assert SECRET not in str(totp)


def test_equality_and_hash_are_by_value() -> None:
    assert _user() == _user()
    assert _user() != _user(emails=1)
    a = TotalCount(object="total_count", total_count=1)
    assert a == TotalCount(object="total_count", total_count=1)
    assert a != TotalCount(object="total_count", total_count=2)
    assert hash(a) == hash(TotalCount(object="total_count", total_count=1))
    assert a != ("total_count", 1)
    assert len({a, TotalCount(object="total_count", total_count=1)}) == 1
    with pytest.raises(TypeError):
        hash(_user())  # holds dicts, as before


def test_still_frozen_slotted_kw_only_attrs_classes() -> None:
    user = _user(emails=1)
    assert attrs.has(User) and attrs.has(EmailAddress)
    names = [a.name for a in attrs.fields(User)]
    assert names[:2] == ["id", "object"] and "private_metadata" in names
    assert attrs.fields(User).id.default is attrs.NOTHING
    assert attrs.fields(User).username.default is None
    assert all(a.kw_only for a in attrs.fields(User))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        user.first_name = "Eve"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del user.first_name  # type: ignore[misc]
    assert not hasattr(user, "__dict__")
    assert weakref.ref(user)() is user
    with pytest.raises(TypeError):
        TotalCount("total_count", 1)  # type: ignore[misc]
    renamed = attrs.evolve(user, first_name="Eve")
    assert renamed.first_name == "Eve" and renamed.id == user.id and type(renamed) is User
    assert attrs.asdict(TotalCount(object="total_count", total_count=3)) == {
        "object": "total_count", "total_count": 3
    }


def test_pickle_copy_and_cattrs() -> None:
    user = _user(emails=2)
    for clone in (pickle.loads(pickle.dumps(user)), copy.copy(user), copy.deepcopy(user)):
        assert clone == user and type(clone) is User
    converter = cattrs.Converter()
    count = converter.structure({"object": "total_count", "total_count": 4}, TotalCount)
    assert count == TotalCount(object="total_count", total_count=4)
    assert converter.unstructure(count) == {"object": "total_count", "total_count": 4}
    assert unstructure(user)["private_metadata"] == {"stripe": SECRET, "a": 1, "b": 2}


def test_the_shared_converter_uses_the_generated_functions() -> None:
    from clerk_async._convert import converter

    email = converter.structure(
        {"object": "email_address", "email_address": "a@example.com", "reserved": False,
         "linked_to": [], "created_at": 1, "updated_at": 2},
        EmailAddress,
    )
    assert isinstance(email, EmailAddress)
    assert converter.unstructure(email)["email_address"] == "a@example.com"
    assert converter.unstructure(CreateUserParams(first_name="A")) == {"first_name": "A"}


_NO_RUNTIME_COMPILE = r"""
import builtins, json, sys

import attrs
from clerk_async import AsyncClerk
from clerk_async._convert import structure, unstructure
from clerk_async.models import User
import clerk_async.resources.users

client = AsyncClerk(secret_key="sk_test_" + "x" * 32)

# attrs writes __init__ when a model module is imported (repr, == and hash on
# their first use); decoding and encoding run the generated functions: nothing
# is compiled on that path.
seen = []
real_compile, real_exec, real_eval = builtins.compile, builtins.exec, builtins.eval

def compile(source, filename, *args, **kwargs):
    if not str(filename).endswith(".py"):  # imports compile .py files only
        seen.append(["compile", str(filename)])
    return real_compile(source, filename, *args, **kwargs)

def exec(source, *args, **kwargs):
    if isinstance(source, str) or not source.co_filename.endswith(".py"):
        seen.append(["exec", getattr(source, "co_filename", "<str>")])
    return real_exec(source, *args, **kwargs)

def eval(source, *args, **kwargs):
    seen.append(["eval", str(source)[:40]])
    return real_eval(source, *args, **kwargs)

builtins.compile, builtins.exec, builtins.eval = compile, exec, eval

data = json.loads(sys.argv[1])
user = structure(data, User)
users = structure([data, data], list[User])
unstructure(user), unstructure(users)
assert user.id == "user_1"
builtins.compile, builtins.exec, builtins.eval = real_compile, real_exec, real_eval
assert [a.name for a in attrs.fields(User)][:2] == ["id", "object"]  # a real attrs class
print(json.dumps(seen))
"""


def test_no_code_is_compiled_on_first_decode() -> None:
    import json

    data = json.dumps(user_json(email_addresses=[_email(1)]))
    command = [sys.executable, "-c", _NO_RUNTIME_COMPILE, data]
    subprocess.run(command, check=True, capture_output=True)  # writes any missing .pyc
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


_DUNDERS_ON_FIRST_USE = r"""
import builtins
import attrs
from clerk_async.models import TotalCount, User

real_compile = builtins.compile
compiled = []

def compile(source, filename, *args, **kwargs):
    compiled.append(str(filename))
    return real_compile(source, filename, *args, **kwargs)

builtins.compile = compile
a = TotalCount(object="total_count", total_count=1)
b = TotalCount(object="total_count", total_count=1)
assert "__repr__" not in vars(TotalCount) and "__eq__" not in vars(TotalCount)
assert a == b and hash(a) == hash(b) and a != TotalCount(object="total_count", total_count=2)
assert a.__eq__(("total_count", 1)) is NotImplemented
assert repr(a) == "TotalCount(object='total_count', total_count=1)"
for name in ("__repr__", "__eq__", "__hash__"):
    code = vars(TotalCount)[name].__code__  # installed on the class, written by attrs
    assert code.co_filename.startswith("<attrs generated"), (name, code.co_filename)
first = list(compiled)
repr(b), a == b, hash(b), repr(a)
assert first and compiled == first, compiled  # written once per class, then reused
assert "__repr__" not in vars(User)  # other classes still wait for their first use
print("ok")
"""


def test_attrs_writes_repr_eq_and_hash_on_first_use_once_per_class() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _DUNDERS_ON_FIRST_USE], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


_DUNDERS_RACE = r"""
import threading
from clerk_async.models import TotalCount

start = threading.Barrier(8)
failures = []

def first_use(n):
    a = TotalCount(object="total_count", total_count=n)
    start.wait()
    try:
        assert repr(a) == f"TotalCount(object='total_count', total_count={n})"
        assert a == TotalCount(object="total_count", total_count=n)
        assert hash(a) == hash(TotalCount(object="total_count", total_count=n))
        assert a != TotalCount(object="total_count", total_count=n + 1)
    except BaseException as exc:
        failures.append(exc)

threads = [threading.Thread(target=first_use, args=(n,)) for n in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert not failures, failures
print("ok")
"""


def test_first_use_from_many_threads_at_once() -> None:
    # A fresh process, so that all eight threads race to have attrs write the methods.
    result = subprocess.run([sys.executable, "-c", _DUNDERS_RACE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_real_attrs_classes_inspect_and_match_by_keyword() -> None:
    user = _user(emails=1)
    props = attrs.inspect(User)  # attrs wrote the class: frozen, slotted, its own methods
    assert props.is_frozen and props.is_slotted and props.added_init and props.added_pickling
    # kw_only: attrs gives no positional __match_args__, keyword patterns work.
    assert User.__match_args__ == ()
    match user:
        case User(id="user_1", email_addresses=[EmailAddress(email_address=address)]):
            assert address == "u0@example.com"
        case _:
            raise AssertionError("no match")
