"""Logins over a simulated day: TokenProvider versus the mesoshttp approach.

A framework makes one authenticated call every 10 seconds for 24 hours of
simulated time (a shared fake clock; nothing really waits), against the real fake
IAM over loopback HTTP. We count the logins the IAM sees:

- ``TokenProvider`` reads ``exp`` from the auth token and refreshes in its
  advisory window (30 minutes ahead for long tokens);
- the mesoshttp / avmesos ``DCOSServiceAuth`` approach keys the auth token's
  expiry to the login token's and so logs in again whenever its 3-minute login
  token has lapsed (``docs/protocol.md``, "What other clients do"). It is modelled here with the same
  IAM client, so the only difference is the refresh rule.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

from mesos_auth import IAMClient, ServiceAccount, TokenProvider
from mesos_auth.testing.iam import FakeIAM

DAY = 24 * 3600.0
CALL_INTERVAL = 10.0
MESOSHTTP_LOGIN_TOKEN_LIFETIME = 180.0


class SimulatedClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class MesoshttpStyle:
    """Re-login whenever the 3-minute login token has lapsed, whatever the auth token says."""

    def __init__(self, account: ServiceAccount, iam: IAMClient, clock: SimulatedClock) -> None:
        self.account, self.iam, self.clock = account, iam, clock
        self.token = ""
        self.valid_until = 0.0
        self.login_count = 0

    def header(self) -> str:
        if self.clock() >= self.valid_until:
            self.token = self.iam.login(self.account)
            self.valid_until = self.clock() + MESOSHTTP_LOGIN_TOKEN_LIFETIME
            self.login_count += 1
        return f"token={self.token}"


def simulate(token_lifetime: float) -> Tuple[int, int]:
    """Logins in one simulated day: (TokenProvider, mesoshttp-style)."""
    clock = SimulatedClock()
    with FakeIAM(clock=clock, token_lifetime=token_lifetime) as fake:
        account = fake.create_account("bench", endpoint=fake.http_login_endpoint)
        provider = TokenProvider(account, clock=clock)
        baseline = MesoshttpStyle(account, IAMClient(clock=clock), clock)
        start = clock.now
        while clock.now - start < DAY:
            provider.header()
            baseline.header()
            clock.now += CALL_INTERVAL
        fake.check()
        assert fake.login_count == provider.login_count + baseline.login_count
    return provider.login_count, baseline.login_count


def run() -> List[Dict[str, object]]:
    rows = []
    for label, lifetime in (("5-day tokens", 5 * DAY), ("6-hour tokens", 6 * 3600.0)):
        ours, theirs = simulate(lifetime)
        rows.append({"tokens": label, "mesos-auth": ours, "mesoshttp": theirs, "ratio": theirs / ours})
    return rows


def main() -> None:
    print(f"Logins in one simulated day, one call every {CALL_INTERVAL:.0f} s ({int(DAY / CALL_INTERVAL)} calls)")
    print(f"{'auth token lifetime':<22}{'mesos-auth':>12}{'mesoshttp':>12}{'mesoshttp / ours':>18}")
    for row in run():
        print(f"{row['tokens']:<22}{row['mesos-auth']:>12}{row['mesoshttp']:>12}{row['ratio']:>17.0f}x")


if __name__ == "__main__":
    main()
