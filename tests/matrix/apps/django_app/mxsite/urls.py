from django.urls import path
from shop import views

urlpatterns = [
    path("books", views.books),
    path("books/fixed", views.books_fixed),
]
