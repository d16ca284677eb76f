"""The fake DC/OS IAM (dcos/bouncer): service accounts, login, authentication tokens."""

from mesos_auth.testing.iam.server import (
    DEFAULT_TOKEN_LIFETIME,
    JWKS_PATH,
    LOGIN_PATH,
    FakeIAM,
    IAMEvent,
)

__all__ = ["DEFAULT_TOKEN_LIFETIME", "JWKS_PATH", "LOGIN_PATH", "FakeIAM", "IAMEvent"]
