"""A DRF serializer whose method field asks one profile, per row, whether it follows
that row's profile, through a model-level check (as Profile.is_following on a real
app). Imported after tests/orm/django_env.setup()."""

from __future__ import annotations

from rest_framework import serializers

from tests.orm.django_models.models import Profile


def is_following(viewer: Profile, profile: Profile) -> bool:
    return bool(viewer.followers.filter(pk=profile.pk).exists())


class FollowSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    following = serializers.SerializerMethodField()

    class Meta:
        model = Profile
        fields = ["bio", "following"]

    def get_following(self, profile: Profile) -> bool:
        ids = self.context.get("followed_ids")
        if ids is not None:
            return profile.pk in ids
        return is_following(self.context["viewer"], profile)
