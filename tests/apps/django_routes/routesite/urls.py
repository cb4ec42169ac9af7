from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter
from rest_framework.urlpatterns import format_suffix_patterns

from routesite import views

router = DefaultRouter()
router.register("posts", views.PostViewSet, basename="post")

shop = [
    path("items/<int:pk>/", views.item),
    re_path(r"^tags/(?P<tag>\w+)/$", views.tag),
]

urlpatterns = [
    path("health/", views.health),
    re_path(r"^api/posts/(?P<slug>[^/.]+)$", views.post_by_slug),
    re_path(r"^archive/([0-9]{4})/([0-9]{2})/$", views.archive),
    re_path(r"^legacy/(\d+)/?$", views.LegacyView.as_view()),
    re_path(r"^files/v1\.0/(?P<name>[\w-]+)\.txt$", views.text_file),
    re_path(r"^shop/", include(shop)),
    path("v2/", include([re_path(r"^orders/(?P<id>\d+)/$", views.order)])),
    path("api/v1/", include(router.urls)),
    *format_suffix_patterns([
        path("reports/<int:pk>/", views.report),
        re_path(r"^stats/$", views.stats),
    ]),
    *i18n_patterns(path("about/", views.about)),
]
