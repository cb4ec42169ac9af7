from rest_framework import serializers

from shop.models import Product


class ProductSerializer(serializers.ModelSerializer):
    maker = serializers.CharField(source="maker.name")  # n+1: maker
    labels = serializers.SlugRelatedField(  # n+1: labels
        many=True, read_only=True, slug_field="name"
    )
    reviews = serializers.SerializerMethodField()  # n+1: reviews

    class Meta:
        model = Product
        fields = ["title", "maker", "labels", "reviews"]

    def get_reviews(self, product):
        return product.review_set.count()
