from rest_framework import generics

from shop.models import Product
from shop.serializers import ProductSerializer


class ProductList(generics.ListAPIView):
    queryset = Product.objects.order_by("id")
    serializer_class = ProductSerializer
