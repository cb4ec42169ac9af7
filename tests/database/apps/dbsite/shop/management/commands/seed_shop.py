"""Create the tables and PRODUCTS products (run under plain Python, before serving)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from shop.models import Product

PRODUCTS = 3000


class Command(BaseCommand):
    def handle(self, *args: object, **options: object) -> None:
        call_command("migrate", run_syncdb=True, verbosity=0)
        Product.objects.all().delete()
        Product.objects.bulk_create(
            Product(name=f"Product {n}", price=n % 97, body="A fine product. " * 40)
            for n in range(1, PRODUCTS + 1)
        )
