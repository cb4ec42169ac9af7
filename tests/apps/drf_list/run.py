"""A DRF list endpoint whose serializer reads three relations per row, called in
process: ``python run.py`` (under ``perfdoctor run``)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import django
from django.conf import settings

settings.configure(
    SECRET_KEY="tests",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "shop"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
)
django.setup()

from django.apps import apps  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402
from shop.models import Label, Maker, Product, Review  # noqa: E402
from shop.views import ProductList  # noqa: E402

with connection.schema_editor() as editor:
    for model in apps.get_app_config("shop").get_models():
        editor.create_model(model)
labels = [Label.objects.create(name=f"l{i}") for i in range(3)]
for i in range(8):
    product = Product.objects.create(title=f"p{i}", maker=Maker.objects.create(name=f"m{i}"))
    product.labels.add(*labels[: i % 3 + 1])
    Review.objects.create(product=product, stars=i % 5)
response = ProductList.as_view()(APIRequestFactory().get("/products"))
response.render()
print(response.status_code, len(response.data))
