"""The emulator command (`python -m emulator`): start-up line, secret masking, bad options."""

import subprocess
import sys

import requests

from emulator.testing import ROOT, start_emulator


def test_emulator_prints_the_webhook_once_and_never_logs_the_secret():
    secret = "very-secret-3b9f1e0c"
    emu = start_emulator("--dataset", "empty", "--access-log", "--no-rate-limit", secret=secret)
    try:
        requests.get(emu.webhook + "server.time", timeout=10)
        requests.get(f"{emu.base}/rest/1/{secret}/no.such.method", timeout=10)
        # regression: a wrong secret (someone's real one, or a typo of ours) was logged in clear
        requests.get(f"{emu.base}/rest/1/wrong-secret-77aa/server.time", timeout=10)
    finally:
        emu.stop()
    output = emu.output()
    lines_with_secret = [line for line in output.splitlines() if secret in line]
    assert lines_with_secret == [f"Webhook URL: {emu.webhook}"]
    assert "/rest/1/***/server.time" in output  # the access log shows the call, masked
    assert "wrong-secret-77aa" not in output


def test_emulator_refuses_an_unknown_time_zone():
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "--timezone", "Mars/Olympus"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "unknown time zone" in result.stderr and "Traceback" not in result.stderr


def test_emulator_speaks_another_portal_time_zone():
    emu = start_emulator("--dataset", "empty", "--timezone", "Asia/Yekaterinburg")
    try:
        assert emu.call("server.time")["result"].endswith("+05:00")
    finally:
        emu.stop()
