"""The paginated answer of GetOAuthAccessToken (not a schema of the spec)."""

from __future__ import annotations

import attrs

from ..models import OAuthAccessToken

__all__ = ["OAuthAccessTokenPage"]


@attrs.frozen(kw_only=True, slots=True)
class OAuthAccessTokenPage:
    """One page of a user's OAuth access tokens and how many there are in all."""

    data: list[OAuthAccessToken]
    total_count: int
