"""This project's own table of users, kept in step with Clerk by its webhooks.

Clerk stays the source of truth; ``LocalUser`` is what the project's other
tables would point at. ``ProcessedWebhook`` remembers each delivery's
``svix-id`` so a retried delivery is applied once (see ``views.clerk_webhook``).
"""

from __future__ import annotations

from django.db import models


class LocalUser(models.Model):
    clerk_id = models.CharField(max_length=64, primary_key=True)
    email_address = models.CharField(max_length=320, null=True)
    first_name = models.CharField(max_length=256, null=True)
    last_name = models.CharField(max_length=256, null=True)
    # Clerk's updated_at (epoch ms): a delivery older than the row is ignored.
    updated_at = models.BigIntegerField()


class ProcessedWebhook(models.Model):
    svix_id = models.CharField(max_length=128, primary_key=True)
