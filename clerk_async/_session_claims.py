"""``SessionClaims``: what a verified Clerk session token says about its caller.

Clerk has two shapes of session claims. Version 1 spells organisation claims
out (``org_id``, ``org_slug``, ``org_role``, ``org_permissions``); version 2
(``"v": 2``) packs them under ``o`` (``id``, ``slg``, ``rol``, and permissions
as a comma list ``per`` selected per feature by the bit masks in ``fpm``,
with the features in ``fea``). Both decode to the same fields here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["SessionClaims", "claims_from_payload"]


@attrs.frozen(kw_only=True, slots=True)
class SessionClaims:
    """The verified claims of a Clerk session token.

    ``user_id`` is ``sub``, ``session_id`` ``sid``, ``authorized_party`` ``azp``
    (the origin the token was issued to), ``issuer`` ``iss`` (the instance's
    Frontend API URL); ``expires_at`` and ``issued_at`` are epoch seconds.
    Organisation fields are None when no organisation is active; ``org_role``
    reads ``org:admin`` in both versions. ``version`` is the claims version
    (1 or 2). ``raw`` holds every claim as decoded, custom ones included
    (read-only).
    """

    user_id: str
    session_id: str | None = None
    authorized_party: str | None = None
    issuer: str | None = None
    expires_at: int = 0
    issued_at: int | None = None
    org_id: str | None = None
    org_slug: str | None = None
    org_role: str | None = None
    org_permissions: tuple[str, ...] = ()
    version: int = 1
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def has_org(self) -> bool:
        return self.org_id is not None

    def has_permission(self, permission: str) -> bool:
        """Whether the active organisation grants ``permission`` (``org:feature:action``)."""
        return permission in self.org_permissions


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _org_role(role: str | None) -> str | None:
    # Version 2 drops the "org:" prefix that version 1 (and Clerk's dashboard) use.
    if role is None or role.startswith("org:"):
        return role
    return "org:" + role


def _v2_permissions(org: Mapping[str, Any], features: object) -> tuple[str, ...]:
    per, fpm = org.get("per"), org.get("fpm")
    if not isinstance(per, str) or not isinstance(fpm, str) or not isinstance(features, str):
        return ()
    actions = [a for a in per.split(",") if a]
    org_features = [f[2:] for f in features.split(",") if f.startswith("o:")]
    masks = fpm.split(",")
    found: list[str] = []
    for feature, mask in zip(org_features, masks, strict=False):
        try:
            bits = int(mask)
        except ValueError:
            continue
        found.extend(
            f"org:{feature}:{action}" for i, action in enumerate(actions) if bits >> i & 1
        )
    return tuple(found)


def claims_from_payload(payload: Mapping[str, Any]) -> SessionClaims:
    """Decode a verified payload of either claims version (``sub`` already checked)."""
    version = payload.get("v")
    org = payload.get("o")
    if version == 2 or isinstance(org, Mapping):
        org = org if isinstance(org, Mapping) else {}
        org_id, org_slug = _text(org.get("id")), _text(org.get("slg"))
        org_role = _org_role(_text(org.get("rol")))
        permissions = _v2_permissions(org, payload.get("fea"))
        version = 2
    else:
        org_id, org_slug = _text(payload.get("org_id")), _text(payload.get("org_slug"))
        org_role = _text(payload.get("org_role"))
        listed = payload.get("org_permissions")
        permissions = tuple(p for p in listed if isinstance(p, str)) if isinstance(
            listed, list
        ) else ()
        version = 1
    iat = payload.get("iat")
    return SessionClaims(
        user_id=payload["sub"],
        session_id=_text(payload.get("sid")),
        authorized_party=_text(payload.get("azp")),
        issuer=_text(payload.get("iss")),
        expires_at=int(payload["exp"]),
        issued_at=int(iat) if isinstance(iat, int | float) else None,
        org_id=org_id,
        org_slug=org_slug,
        org_role=org_role,
        org_permissions=permissions,
        version=version,
        raw=MappingProxyType(payload),
    )
