from clerkusers import session_views
from django.urls import include, path

urlpatterns = [
    path("users/", include("clerkusers.urls")),
    path("me/", session_views.me, name="me"),
    path("webhooks/clerk/", session_views.clerk_webhook, name="clerk-webhook"),
]
