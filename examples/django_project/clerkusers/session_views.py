"""Signed-in views: who is calling, and Clerk's webhooks into the local table.

=========================  ====================================================
GET  /me/                  the caller's session (401 without a valid token)
POST /webhooks/clerk/      Clerk's user.created / updated / deleted, applied once
=========================  ====================================================

``ClerkSessionMiddleware`` (see settings) reads the session token from
``Authorization: Bearer …`` or the ``__session`` cookie; the webhook secret is
``CLERK_WEBHOOK_SIGNING_SECRET``.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from clerk_async.webhooks import WebhookEvent, WebhookVerificationError, verify_webhook
from clerk_sync import DeletedObject, User
from clerk_sync.django import clerk_session_required

from .models import LocalUser, ProcessedWebhook


@require_GET
@clerk_session_required
def me(request: HttpRequest) -> JsonResponse:
    session = request.clerk_session
    local = LocalUser.objects.filter(clerk_id=session.user_id).values(
        "email_address", "first_name", "last_name"
    ).first()
    return JsonResponse({"user_id": session.user_id, "session_id": session.session_id,
                         "org_id": session.org_id, "local": local})


def _apply(event: WebhookEvent) -> str:
    data = event.data
    if event.type in ("user.created", "user.updated") and isinstance(data, User):
        primary = next((e.email_address for e in data.email_addresses
                        if e.id == data.primary_email_address_id), None)
        row = LocalUser.objects.select_for_update().filter(clerk_id=data.id).first()
        if row is None or row.updated_at <= data.updated_at:  # deliveries can arrive late
            LocalUser.objects.update_or_create(clerk_id=data.id, defaults={
                "email_address": primary, "first_name": data.first_name,
                "last_name": data.last_name, "updated_at": data.updated_at,
            })
        return "processed"
    if event.type == "user.deleted" and isinstance(data, DeletedObject):
        LocalUser.objects.filter(clerk_id=data.id).delete()
        return "processed"
    return "ignored"


@csrf_exempt  # Clerk signs its requests; there is no browser session to protect
@require_POST
def clerk_webhook(request: HttpRequest) -> JsonResponse:
    try:
        event = verify_webhook(request.body, request.headers)
    except WebhookVerificationError as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    try:
        # The svix-id and the change commit together: a retry finds the id and stops.
        with transaction.atomic():
            ProcessedWebhook.objects.create(svix_id=event.id)
            status = _apply(event)
    except IntegrityError:
        status = "duplicate"
    return JsonResponse({"status": status})
