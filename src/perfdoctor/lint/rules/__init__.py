"""Every lint rule: one module each, registering itself on import."""

from perfdoctor.lint.rules import (  # noqa: F401
    pd001_unparsable,
    pd101_related_in_loop,
    pd102_len_queryset,
    pd103_count_for_exists,
    pd104_python_aggregate,
    pd105_unbounded_all_in_view,
    pd106_only_defer,
    pd121_manager_per_row,
    pd122_drf_serializer_relations,
    pd123_drf_membership_per_row,
    pd201_http_no_timeout,
    pd301_cache_no_timeout,
    pd302_redis_set_no_expiry,
    pd303_cache_key_no_user,
    pd401_sequential_awaits,
    pd402_blocking_in_async,
    pd501_conn_max_age,
)
