"""The API's closed sets of values, as ``Literal`` types, and their runtime check.

Type checkers reject a wrong value at the call site (``order_by="created"``);
the runtime check gives the same answer, naming the argument, to code that is
not type-checked, before any request is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

__all__ = [
    "CreditAction",
    "IdentificationStatus",
    "InvitationStatus",
    "MembershipOrderBy",
    "UserOrderBy",
    "check_choice",
    "check_choices",
]

#: ``users.list``/``users.iter`` ordering: a field, ``+`` (ascending, implied) or ``-``.
UserOrderBy = Literal[
    "created_at", "+created_at", "-created_at",
    "updated_at", "+updated_at", "-updated_at",
    "email_address", "+email_address", "-email_address",
    "web3wallet", "+web3wallet", "-web3wallet",
    "first_name", "+first_name", "-first_name",
    "last_name", "+last_name", "-last_name",
    "phone_number", "+phone_number", "-phone_number",
    "username", "+username", "-username",
    "last_active_at", "+last_active_at", "-last_active_at",
    "last_sign_in_at", "+last_sign_in_at", "-last_sign_in_at",
]  # fmt: skip

#: ``users.get_instance_organization_memberships`` ordering.
MembershipOrderBy = Literal[
    "created_at", "+created_at", "-created_at",
    "email_address", "+email_address", "-email_address",
    "first_name", "+first_name", "-first_name",
    "last_name", "+last_name", "-last_name",
    "phone_number", "+phone_number", "-phone_number",
    "username", "+username", "-username",
]  # fmt: skip

#: ``users.get_organization_invitations(status=...)``.
InvitationStatus = Literal["pending", "accepted", "revoked", "expired"]

#: ``users.create(email_address_identification_status=[...])`` and the phone twin.
IdentificationStatus = Literal["verified", "reserved"]

#: ``users.adjust_billing_credit_balance(action=...)``.
CreditAction = Literal["increase", "decrease"]


def check_choice(name: str, value: object, choices: object) -> None:
    """ValueError naming ``name`` unless ``value`` is one of the ``Literal`` ``choices``."""
    allowed = get_args(choices)
    if value not in allowed:
        listed = ", ".join(repr(option) for option in allowed)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")


def check_choices(name: str, values: Iterable[object], choices: object) -> None:
    """:func:`check_choice` for each item of a list argument."""
    for index, value in enumerate(values):
        check_choice(f"{name}[{index}]", value, choices)
