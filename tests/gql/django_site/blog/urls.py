from __future__ import annotations

from django.urls import path
from graphene_django.views import GraphQLView as GrapheneView
from strawberry.django.views import GraphQLView as StrawberryView

from blog import graphene_schema, strawberry_schema

urlpatterns = [
    path("strawberry/graphql", StrawberryView.as_view(schema=strawberry_schema.schema)),
    path("graphene/graphql", GrapheneView.as_view(schema=graphene_schema.schema)),
    path("graphene/batch", GrapheneView.as_view(schema=graphene_schema.schema, batch=True)),
]
