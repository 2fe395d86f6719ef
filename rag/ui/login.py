"""Login for `rag ui --auth user:password`, with failed logins throttled."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque
from typing import Callable

__all__ = ["LoginLimiter"]

log = logging.getLogger(__name__)


class LoginLimiter:
    """Gradio's `auth` callable for one user:password login, with failed logins throttled.

    The name and password are compared in constant time. After `max_failures` failed logins for one name within
    `window_s` seconds, every login for that name is refused, the right password too, until the oldest failure
    is older than the window; after `max_total_failures` failures for any names within the window, every login
    is refused, so spraying many names is limited too. Refused attempts are not counted, so the lock ends
    on time. `clock` is injectable for tests.
    """

    def __init__(self, username: str, password: str, *, max_failures: int = 5, max_total_failures: int = 30,
                 window_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._username = username.strip().encode("utf-8")
        self._password = password.encode("utf-8")
        self.max_failures = max_failures
        self.max_total_failures = max_total_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}  # name -> times of its failures within the window
        self._all: deque[float] = deque()  # times of every failure within the window
        self._lock = threading.Lock()  # Gradio may check logins from several threads

    def _forget_old(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._all and self._all[0] <= cutoff:
            self._all.popleft()
        for name in list(self._failures):
            times = self._failures[name]
            while times and times[0] <= cutoff:
                times.popleft()
            if not times:
                del self._failures[name]  # memory stays bounded by max_total_failures

    def locked(self, username: str) -> bool:
        """Whether a login for `username` would be refused now, whatever the password."""
        with self._lock:
            self._forget_old(self._clock())
            return (len(self._failures.get(username, ())) >= self.max_failures
                    or len(self._all) >= self.max_total_failures)

    def __call__(self, username: str, password: str) -> bool:
        username, password = str(username), str(password)
        with self._lock:
            now = self._clock()
            self._forget_old(now)
            if len(self._failures.get(username, ())) >= self.max_failures or len(self._all) >= self.max_total_failures:
                log.warning("login for %r refused: too many failed logins in the last %.0f s", username, self.window_s)
                return False
            # Both comparisons always run (& not and): the time taken says nothing about which one failed.
            ok = hmac.compare_digest(username.encode("utf-8"), self._username) & \
                hmac.compare_digest(password.encode("utf-8"), self._password)
            if not ok:
                self._failures.setdefault(username, deque()).append(now)
                self._all.append(now)
            return bool(ok)
