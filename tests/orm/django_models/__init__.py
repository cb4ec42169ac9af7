"""A Django app (label ``blog``) whose models hold every relation kind perfdoctor
must name in a fix; shared by the catalog tests and the N+1 fix tests.

Set it up in-process with ``tests.orm.django_env.setup()`` (SQLite in memory,
tables created).  What it holds (``auth.User`` is Django's):

- forward FK: ``Post.category`` -> Category (no ``related_name``: reverse
  ``category.post_set``, query name ``post``); ``Post.owner`` -> Profile
  (``related_name="posts"``); ``Comment.post`` -> Post (``related_name="comments"``,
  ``related_query_name="comment"``); ``Comment.author`` -> auth.User (reverse
  ``user.comment_set``);
- nested FK chain: ``Comment.post -> Post.owner -> Profile.user -> User``
  (``select_related("post__owner__user")``);
- one-to-one: ``Profile.user`` -> auth.User (reverse ``user.profile``);
- many-to-many, auto through: ``Post.tags`` -> Tag (reverse ``tag.posts``);
  self, asymmetric: ``Profile.followers`` -> Profile (reverse ``following``);
- many-to-many, custom through: ``Team.members`` -> Profile through
  ``Membership`` (reverse ``profile.teams``);
- GenericForeignKey: ``Attachment.content_object`` (content_type + object_id),
  reverse ``Post.attachments`` (GenericRelation);
- multi-table inheritance: ``Restaurant(Place)`` (``place_ptr`` parent link,
  reverse ``place.restaurant``), with ``Restaurant.chef`` -> Profile;
- proxy: ``PublishedPost`` (table ``blog_post``);
- abstract base: ``Stamped`` (not a model of its own).
"""
