from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=80)
    price = models.IntegerField()
    # A long description, shown only on a product's own page.
    body = models.TextField()
