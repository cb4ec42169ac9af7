import os

from django.db import models
from wagtail.models import Page


class Country(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        app_label = "bakery"


class HomePage(Page):
    def get_context(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        context = super().get_context(request, *args, **kwargs)
        index = BreadsIndexPage.objects.child_of(self).first()
        # Wagtail's usual listing: the children as their own page types.
        featured = index.get_children().live().specific()
        fixed = os.environ.get("BAKERY_FIXED")
        if fixed == "subqueries":
            # the fix perfdoctor prints for Wagtail 6.3 and later, pasted
            featured = featured.select_related("origin", for_specific_subqueries=True)
        elif fixed:
            # the fix it prints for earlier versions, pasted
            featured = BreadPage.objects.live().child_of(index).select_related("origin")
        context["featured"] = featured
        return context


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
