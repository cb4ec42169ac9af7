from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "tests.orm.django_models"
    label = "blog"
    default_auto_field = "django.db.models.AutoField"
