from django.db import models


class Maker(models.Model):
    name = models.CharField(max_length=50)


class Label(models.Model):
    name = models.CharField(max_length=50)


class Product(models.Model):
    title = models.CharField(max_length=100)
    maker = models.ForeignKey(Maker, on_delete=models.CASCADE)
    labels = models.ManyToManyField(Label, related_name="products")


class Review(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE)
    stars = models.IntegerField()
