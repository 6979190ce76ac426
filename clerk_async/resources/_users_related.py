"""Users operations about things attached to a user: organizations, billing,
OAuth tokens and trusted devices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import models
from .._choices import CreditAction, InvitationStatus, MembershipOrderBy, check_choice
from .._types import UNSET, Unset
from ._base import (
    UserScoped,
    check_limit,
    check_offset,
    path_segment,
    query_pairs,
    structure_checked,
)

if TYPE_CHECKING:
    from ..models import (
        OAuthAccessToken,
        OrganizationInvitationsWithPublicOrganizationData,
        OrganizationMemberships,
        TrustedDevice,
        TrustedDeviceList,
    )
    from ..models.billing import CommerceCreditBalance, CommerceCreditLedger, CommerceSubscription
    from ._oauth_page import OAuthAccessTokenPage

__all__ = ["UserRelatedMethods"]


def _page(limit: int | None, offset: int | None) -> dict[str, int | None]:
    check_limit(limit)
    check_offset(offset)
    return {"limit": limit, "offset": offset}


class UserRelatedMethods(UserScoped):
    async def get_organization_memberships(
        self, user_id: str, *, limit: int | None = None, offset: int | None = None
    ) -> OrganizationMemberships:
        """The organizations the user belongs to, one page at a time."""
        path = self._user_path(user_id, "/organization_memberships")
        return await self._send(
            "UsersGetOrganizationMemberships",
            "GET",
            path,
            models.OrganizationMemberships,
            params=query_pairs(_page(limit, offset)),
        )

    async def get_organization_invitations(
        self,
        user_id: str,
        *,
        limit: int | None = None,
        offset: int | None = None,
        status: InvitationStatus | None = None,
    ) -> OrganizationInvitationsWithPublicOrganizationData:
        """Invitations to organizations sent to the user, optionally by status
        (``pending``, ``accepted``, ``revoked``, ``expired``)."""
        if status is not None:
            check_choice("status", status, InvitationStatus)
        path = self._user_path(user_id, "/organization_invitations")
        params = query_pairs({**_page(limit, offset), "status": status})
        return await self._send(
            "UsersGetOrganizationInvitations",
            "GET",
            path,
            models.OrganizationInvitationsWithPublicOrganizationData,
            params=params,
        )

    async def get_instance_organization_memberships(
        self,
        *,
        order_by: MembershipOrderBy | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> OrganizationMemberships:
        """Organization memberships across the whole instance, ordered by ``order_by``
        (a field with an optional ``+``/``-`` prefix)."""
        if order_by is not None:
            check_choice("order_by", order_by, MembershipOrderBy)
        params = query_pairs({"order_by": order_by, **_page(limit, offset)})
        return await self._send(
            "InstanceGetOrganizationMemberships",
            "GET",
            "/organization_memberships",
            models.OrganizationMemberships,
            params=params,
        )

    async def get_oauth_access_token(
        self,
        user_id: str,
        provider: str,
        *,
        paginated: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[OAuthAccessToken] | OAuthAccessTokenPage:
        """The user's OAuth access tokens for ``provider`` (e.g. ``"oauth_google"``).

        A list by default; with ``paginated=True`` an :class:`OAuthAccessTokenPage`
        (``data`` and ``total_count``), which ``limit``/``offset`` walk. Clerk
        answers either as a bare list or as ``{data, total_count}``; both
        shapes are read either way.
        """
        if paginated is not None and not isinstance(paginated, bool):
            raise TypeError(f"paginated must be a bool, got {type(paginated).__name__}")
        suffix = "/oauth_access_tokens/" + path_segment("provider", provider)
        path = self._user_path(user_id, suffix)
        params = query_pairs({"paginated": paginated, **_page(limit, offset)})
        raw = await self._send("GetOAuthAccessToken", "GET", path, object, params=params)
        from ._oauth_page import OAuthAccessTokenPage  # an attrs class: built on first use

        if isinstance(raw, dict):
            page = structure_checked(raw, OAuthAccessTokenPage, "GET", path)
        else:
            tokens = structure_checked(raw, list[models.OAuthAccessToken], "GET", path)
            page = OAuthAccessTokenPage(data=tokens, total_count=(offset or 0) + len(tokens))
        return page if paginated else page.data

    async def get_billing_subscription(self, user_id: str) -> CommerceSubscription:
        """The user's billing subscription."""
        from ..models.billing import CommerceSubscription  # ~30 classes: built on first use

        return await self._send(
            "GetUserBillingSubscription",
            "GET",
            self._user_path(user_id, "/billing/subscription"),
            CommerceSubscription,
        )

    async def get_billing_credit_balance(self, user_id: str) -> CommerceCreditBalance:
        """The user's billing credit balance."""
        from ..models.billing import CommerceCreditBalance

        return await self._send(
            "GetUserBillingCreditBalance",
            "GET",
            self._user_path(user_id, "/billing/credits"),
            CommerceCreditBalance,
        )

    async def adjust_billing_credit_balance(
        self,
        user_id: str,
        *,
        amount: int,
        action: CreditAction,
        idempotency_key: str,
        currency: Unset[str] = UNSET,
        note: Unset[str] = UNSET,
    ) -> CommerceCreditLedger:
        """Add to (``action="increase"``) or take from (``"decrease"``) the balance.

        ``amount`` is in cents. Reusing an ``idempotency_key`` returns the first
        adjustment instead of applying a second one, so this call is retried
        after timeouts like a GET.
        """
        from ..models.billing import CommerceCreditLedger

        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError(f"amount must be a positive int (cents), got {amount!r}")
        check_choice("action", action, CreditAction)
        if not isinstance(idempotency_key, str) or not idempotency_key:
            raise ValueError("idempotency_key must be a non-empty str")
        body = models.AdjustCreditBalanceParams(
            amount=amount,
            action=action,
            idempotency_key=idempotency_key,
            currency=currency,
            note=note,
        )
        return await self._send(
            "AdjustUserBillingCreditBalance",
            "POST",
            self._user_path(user_id, "/billing/credits"),
            CommerceCreditLedger,
            body=body,
            idempotent=True,
        )

    async def list_trusted_devices(self, user_id: str) -> TrustedDeviceList:
        """The user's trusted devices."""
        return await self._send(
            "ListUserTrustedDevices",
            "GET",
            self._user_path(user_id, "/trusted_devices"),
            models.TrustedDeviceList,
        )

    async def revoke_trusted_device(self, user_id: str, trusted_device_id: str) -> TrustedDevice:
        """Revoke one trusted device."""
        suffix = "/trusted_devices/" + path_segment("trusted_device_id", trusted_device_id)
        return await self._send(
            "RevokeUserTrustedDevice", "DELETE", self._user_path(user_id, suffix),
            models.TrustedDevice,
        )
