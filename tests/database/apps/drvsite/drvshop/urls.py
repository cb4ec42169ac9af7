from django.urls import path

from drvshop import views

urlpatterns = [
    path("books/", views.books),
    path("books/fixed/", views.books_fixed),
    path("books/streamed/", views.books_streamed),
]
