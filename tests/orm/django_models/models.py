"""The ``blog`` test app's models: see the package docstring for what each holds."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Stamped(models.Model):
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Category(models.Model):
    name = models.CharField(max_length=50)


class Tag(models.Model):
    name = models.CharField(max_length=50)


class Profile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    bio = models.TextField(default="")
    followers = models.ManyToManyField("self", symmetrical=False, related_name="following")


class Attachment(models.Model):
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    filename = models.CharField(max_length=100)


class Post(Stamped):
    title = models.CharField(max_length=100)
    published = models.BooleanField(default=False)
    owner = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="posts")
    category = models.ForeignKey(Category, on_delete=models.SET_NULL, null=True)
    tags = models.ManyToManyField(Tag, related_name="posts")
    attachments = GenericRelation(Attachment)


class PublishedPost(Post):
    class Meta:
        proxy = True


class Comment(Stamped):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments", related_query_name="comment")
    author = models.ForeignKey(User, on_delete=models.CASCADE)
    body = models.TextField()


class Team(models.Model):
    name = models.CharField(max_length=50)
    members = models.ManyToManyField(Profile, through="Membership", related_name="teams")


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE)
    role = models.CharField(max_length=20, default="member")


class Place(models.Model):
    name = models.CharField(max_length=50)


class Restaurant(Place):
    serves_pizza = models.BooleanField(default=False)
    chef = models.ForeignKey(Profile, on_delete=models.SET_NULL, null=True, related_name="restaurants")
