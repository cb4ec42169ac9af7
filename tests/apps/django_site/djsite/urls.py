from blog import views
from django.urls import include, path

urlpatterns = [
    path("health/", views.health),
    path("articles/", include("blog.urls")),
    path("authors/<int:pk>/dashboard/", views.author_dashboard),
    path("authors/<int:pk>/dashboard/fixed/", views.author_dashboard_fixed),
]
