"""Secrets and personal data planted in URLs by ``apps/url_secrets.py``.

Each value is unique, so finding any of them in the store's files means that
value leaked.  ``FRAGMENTS`` are parts that must not leak on their own either.
"""

SLACK_TEAM = "T0123ABCD"
SLACK_BOT = "B0456EFGH"
SLACK_TOKEN = "aBcD1234eFgH5678iJkL9012"
TELEGRAM_BOT_ID = "7234567890"
TELEGRAM_TOKEN = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
EMAIL = "jane.doe+perf@example.org"
UUID = "3f2a9b1c-0d4e-4f60-8182-93a4b5c6d7e8"
HEX_TOKEN = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
BASE64URL_TOKEN = "xP9_kLm2-QrT8vW3zYb4Nc7Hd6Jf5Gh1Ks0Lp-Zq"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiI0MjQyNDIiLCJuYW1lIjoiSmFuZSBEb2UifQ"
    ".Vw8mQ3tX2b7Lr9KpZs4Hc1Yn6Ud0Fe5Gj-Ak_Oi2Tl8"
)
RESET_TOKENS = {
    # Django's shape: a base36 timestamp, a dash and a hex digest.
    "django": "c4z1k9-5e0f2a7b9d13c8e6f4a2b0d9c7e5f3a1",
    "flask": "Rk7pQ2mXv9LtB4wZc8Ns3Hd6Jy1Ge5Uf",
    "fastapi": "Qm9ZcT3kLp8Wv2Xr6Nb4Hs7Jd1Fg5Ya0",
    "wsgi": "Hs7Jd1Fg5Ya0Qm9ZcT3kLp8Wv2Xr6Nb4",
    "asgi": "Lp8Wv2Xr6Nb4Hs7Jd1Fg5Ya0Qm9ZcT3k",
}
# The token of a matched route (Flask ``/reset/<token>``): the rule names it, the value goes.
ROUTE_TOKEN = "Zc8Ns3Hd6Jy1Ge5UfRk7pQ2mXv9LtB4w"
PREFLIGHT_TOKEN = "Nb4Hs7Jd1Fg5Ya0Qm9ZcT3kLp8Wv2Xr6"
USER = "perfdoctor-user"
PASSWORD = "S3cretPassw0rd!"
QUERY_SECRETS = ("ghp_QuerySecret0123456789abcdefABCD", "sk_live_QuerySecret9876543210", "QsigV4lue42")
INBOUND_QUERY_SECRET = "inbound-query-s3cret-value"
REDIRECT_SECRET = "Fg5Ya0Qm9ZcT3kLp8Wv2Xr6Nb4Hs7Jd1"
# A cache key holding a base64url token with no digit between its dashes.
CACHE_TOKEN = "QwErTyUiOp_AsDfGhJkLz-XcVbNmQwEr"

SECRETS = (
    SLACK_TEAM, SLACK_BOT, SLACK_TOKEN, TELEGRAM_BOT_ID, TELEGRAM_TOKEN, EMAIL, UUID,
    HEX_TOKEN, BASE64URL_TOKEN, JWT, *RESET_TOKENS.values(), ROUTE_TOKEN, PREFLIGHT_TOKEN,
    USER, PASSWORD, *QUERY_SECRETS, INBOUND_QUERY_SECRET, REDIRECT_SECRET, CACHE_TOKEN,
)
FRAGMENTS = (
    "jane.doe", "example.org", "jane.doe%2Bperf", "jane.doe+perf%40",
    *JWT.split("."), HEX_TOKEN[:16], BASE64URL_TOKEN.split("-")[0],
    "S3cretPassw0rd", *CACHE_TOKEN.replace("-", "_").split("_"),
)
