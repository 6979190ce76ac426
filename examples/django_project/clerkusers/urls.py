from django.urls import path

from . import views

urlpatterns = [
    path("", views.users, name="users"),
    # Before <user_id>/, which would match "overview" too.
    path("overview/", views.overview, name="overview"),
    path("<str:user_id>/", views.user_detail, name="user-detail"),
]
