from django.urls import path

from cachesite import views

urlpatterns = [
    path("health/", views.health),
    path("login/", views.login_view),
    path("profile/", views.my_profile),
    path("profile/fixed/", views.my_profile_fixed),
    path("banner/", views.banner),
    path("banner/fixed/", views.banner_fixed),
]
