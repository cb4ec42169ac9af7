"""A site whose urlconf holds every way Django and DRF spell a route: route naming tests."""

SECRET_KEY = "perfdoctor-routes-site-not-a-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["rest_framework"]
MIDDLEWARE = ["django.middleware.locale.LocaleMiddleware"]
ROOT_URLCONF = "routesite.urls"
DATABASES: dict[str, object] = {}
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "French")]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
