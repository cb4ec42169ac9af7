import os

from django.db import models
from wagtail.models import Page


class Country(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "bakery"


class HomePage(Page):
    pass


class BreadsIndexPage(Page):
    def get_context(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        context = super().get_context(request, *args, **kwargs)
        breads = BreadPage.objects.live().child_of(self).order_by("title")
        if os.environ.get("BAKERY_FIXED"):
            # the fix perfdoctor prints, pasted
            breads = breads.select_related("origin")
        context["breads"] = breads
        return context


class BreadPage(Page):
    origin = models.ForeignKey(Country, null=True, on_delete=models.SET_NULL)
