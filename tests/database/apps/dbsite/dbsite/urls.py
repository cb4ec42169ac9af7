from django.urls import path
from shop import views

urlpatterns = [
    path("health/", views.health),
    path("products/", views.products),
    path("products/fixed/", views.products_fixed),
    path("products/recent/", views.recent),
    path("products/recent/fixed/", views.recent_fixed),
    path("catalogue/", views.catalogue),
    path("catalogue/fixed/", views.catalogue_fixed),
    path("stock/", views.stock),
    path("stock/fixed/", views.stock_fixed),
]
