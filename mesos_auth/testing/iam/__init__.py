"""The fake DC/OS IAM (dcos/bouncer): service accounts, login, authentication tokens, permissions (ACLs)."""

from mesos_auth.testing.iam.server import (
    DEFAULT_TOKEN_LIFETIME,
    JWKS_PATH,
    LOGIN_PATH,
    ACLEvent,
    FakeIAM,
    IAMEvent,
)

__all__ = ["DEFAULT_TOKEN_LIFETIME", "JWKS_PATH", "LOGIN_PATH", "ACLEvent", "FakeIAM", "IAMEvent"]
