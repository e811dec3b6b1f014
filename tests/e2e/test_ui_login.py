"""The UI's password: a real server on loopback, logins over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from rag import Assistant
from tests.e2e.test_ui_browser import free_port
from ui.app import LoginGuard, serve

pytestmark = [
    # As in test_ui_browser: Gradio's queue calls pandas APIs that pandas 3 deprecates.
    pytest.mark.filterwarnings(
        "ignore:'future.no_silent_downcasting' is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
]


def test_guessing_the_password_locks_logins_for_a_while(make_assistant, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio-tmp"))
    assistant: Assistant = make_assistant()
    port = free_port()
    demo = serve(assistant, assistant.settings, port=port, auth=("analyst", "s3cret"),
                 block=False)
    try:
        def login(password: str) -> int:
            reply = httpx.post(f"http://127.0.0.1:{port}/login",
                               data={"username": "analyst", "password": password})
            return reply.status_code

        assert login("s3cret") == 200
        assert [login(f"guess-{i}") for i in range(5)] == [400] * 5
        # Locked: the right password is refused too, until the lockout ends.
        assert login("s3cret") == 400
    finally:
        demo.close()


def test_the_lockout_ends_and_old_failures_are_forgotten() -> None:
    now = [0.0]
    guard = LoginGuard("analyst", "s3cret", max_failures=3, window=60, lockout=30,
                       clock=lambda: now[0])
    assert not guard("analyst", "a") and not guard("analyst", "b")
    now[0] = 61.0  # the first two failures leave the window
    assert not guard("analyst", "c") and guard("analyst", "s3cret")
    assert not guard("analyst", "d") and not guard("analyst", "e")  # third in the window
    assert not guard("analyst", "s3cret")  # locked
    now[0] += 30.0
    assert guard("analyst", "s3cret")
    assert not guard("someone", "s3cret")
