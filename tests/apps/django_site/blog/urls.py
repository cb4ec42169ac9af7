from django.urls import path

from blog import views

urlpatterns = [
    path("", views.article_list),
    path("fixed/", views.article_list_fixed),
    path("<int:pk>/", views.article_detail),
    path("by-slug/<slug:slug>/", views.article_by_slug),
]
