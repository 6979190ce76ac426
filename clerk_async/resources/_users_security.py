"""Users operations about credentials: passwords, MFA, TOTP, identifiers, image."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path
from typing import IO, TYPE_CHECKING

import aiohttp

from .. import models
from .._types import UNSET, Unset
from ..models import User
from ._base import UserScoped, decode, path_segment

if TYPE_CHECKING:
    from ..models import (
        TOTP,
        DeletedObject,
        PasswordVerification,
        TOTPVerification,
        UserIdResponse,
    )

__all__ = ["UserSecurityMethods"]

ImageSource = bytes | str | os.PathLike[str] | IO[bytes]


def _non_empty(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


async def _read_image(file: ImageSource) -> tuple[bytes, str]:
    """The image's bytes and a file name, read once so retries can resend them."""
    if isinstance(file, bytes | bytearray | memoryview):
        data, name = bytes(file), "image"
    elif isinstance(file, str | os.PathLike):
        path = Path(file)
        data, name = await asyncio.to_thread(path.read_bytes), path.name
    elif isinstance(file, io.TextIOBase):
        raise TypeError("file must be opened in binary mode ('rb')")
    elif hasattr(file, "read"):
        data = await asyncio.to_thread(file.read)
        if not isinstance(data, bytes):
            raise TypeError("file must be opened in binary mode ('rb')")
        name = Path(str(getattr(file, "name", "image"))).name
    else:
        raise TypeError(f"file must be bytes, a path or a binary file, got {type(file).__name__}")
    if not data:
        raise ValueError("file is empty")
    return data, name


class UserSecurityMethods(UserScoped):
    async def set_profile_image(
        self,
        user_id: str,
        file: ImageSource,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> User:
        """Upload a profile image: raw bytes, a file path, or a file opened 'rb'."""
        path = self._user_path(user_id, "/profile_image")
        data, name = await _read_image(file)
        name = filename or name

        def form() -> aiohttp.FormData:
            body = aiohttp.FormData()
            body.add_field(
                "file",
                data,
                filename=name,
                content_type=content_type or "application/octet-stream",
            )
            return body

        payload = await self._transport.request("SetUserProfileImage", "POST", path, form=form)
        return decode(payload, User, "POST", path)

    async def delete_profile_image(self, user_id: str) -> User:
        """Remove the user's profile image."""
        return await self._user("DeleteUserProfileImage", "DELETE", user_id, "/profile_image")

    async def remove_password(
        self, user_id: str, *, sign_out_of_other_sessions: Unset[bool] = UNSET
    ) -> User:
        """Remove the user's password (they then sign in some other way)."""
        path = self._user_path(user_id, "/remove_password")
        body = models.RemovePasswordParams(sign_out_of_other_sessions=sign_out_of_other_sessions)
        return await self._send("RemoveUserPassword", "POST", path, User, body=body)

    async def verify_password(self, user_id: str, password: str) -> PasswordVerification:
        """Check a password against the user's; a wrong one raises a 422 error."""
        path = self._user_path(user_id, "/verify_password")
        body = models.VerifyPasswordParams(password=_non_empty("password", password))
        return await self._send(
            "VerifyPassword", "POST", path, models.PasswordVerification, body=body
        )

    async def verify_totp(self, user_id: str, code: str) -> TOTPVerification:
        """Check a TOTP code or a backup code (a used backup code is spent)."""
        path = self._user_path(user_id, "/verify_totp")
        body = models.VerifyTOTPParams(code=_non_empty("code", code))
        return await self._send("VerifyTOTP", "POST", path, models.TOTPVerification, body=body)

    async def disable_mfa(self, user_id: str) -> UserIdResponse:
        """Remove every second factor of the user."""
        return await self._send(
            "DisableMFA", "DELETE", self._user_path(user_id, "/mfa"), models.UserIdResponse
        )

    async def delete_backup_codes(self, user_id: str) -> UserIdResponse:
        """Delete the user's backup codes."""
        return await self._send(
            "DeleteBackupCode", "DELETE", self._user_path(user_id, "/backup_code"),
            models.UserIdResponse,
        )

    async def create_totp(self, user_id: str) -> TOTP:
        """Give the user a new TOTP secret; returns the secret and an otpauth URI."""
        path = self._user_path(user_id, "/totp")
        return await self._send("CreateUserTOTP", "POST", path, models.TOTP)

    async def delete_totp(self, user_id: str) -> UserIdResponse:
        """Delete the user's TOTP authenticators."""
        return await self._send(
            "DeleteTOTP", "DELETE", self._user_path(user_id, "/totp"), models.UserIdResponse
        )

    async def delete_passkey(self, user_id: str, passkey_identification_id: str) -> DeletedObject:
        """Delete one of the user's passkeys."""
        suffix = "/passkeys/" + path_segment("passkey_identification_id", passkey_identification_id)
        return await self._send(
            "UserPasskeyDelete", "DELETE", self._user_path(user_id, suffix), models.DeletedObject
        )

    async def delete_web3_wallet(
        self, user_id: str, web3_wallet_identification_id: str
    ) -> DeletedObject:
        """Delete one of the user's web3 wallets."""
        suffix = "/web3_wallets/" + path_segment(
            "web3_wallet_identification_id", web3_wallet_identification_id
        )
        return await self._send(
            "UserWeb3WalletDelete", "DELETE", self._user_path(user_id, suffix), models.DeletedObject
        )

    async def delete_external_account(
        self, user_id: str, external_account_id: str
    ) -> DeletedObject:
        """Unlink one of the user's external (OAuth) accounts."""
        suffix = "/external_accounts/" + path_segment("external_account_id", external_account_id)
        return await self._send(
            "DeleteExternalAccount", "DELETE", self._user_path(user_id, suffix),
            models.DeletedObject,
        )

    async def set_password_compromised(
        self, user_id: str, *, revoke_all_sessions: Unset[bool | None] = UNSET
    ) -> User:
        """Flag the password as compromised so the user must reset it."""
        path = self._user_path(user_id, "/password/set_compromised")
        body = models.SetPasswordCompromisedParams(revoke_all_sessions=revoke_all_sessions)
        return await self._send("SetUserPasswordCompromised", "POST", path, User, body=body)

    async def unset_password_compromised(self, user_id: str) -> User:
        """Clear the compromised-password flag."""
        return await self._user(
            "UnsetUserPasswordCompromised", "POST", user_id, "/password/unset_compromised"
        )
