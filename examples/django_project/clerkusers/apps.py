from django.apps import AppConfig


class ClerkUsersConfig(AppConfig):
    name = "clerkusers"
    verbose_name = "Clerk users"
