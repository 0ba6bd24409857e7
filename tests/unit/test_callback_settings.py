"""DIALER_CALLBACK_* settings: typed, defaulted to Svix's schedule, a malformed secret refused."""
import pytest

from config import Config, ConfigError
from service.dialer.callbacks.signing import new_secret
from service.dialer.callbacks.urls import UnsafeURLError, check_callback_url, forbidden_reason

BASE = {"APP_ENV": "development"}


def test_defaults_follow_the_issue():
    callbacks = Config.from_env(BASE).callbacks
    assert callbacks.retry_schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert (callbacks.secret_overlap_hours, callbacks.disable_after_hours, callbacks.retention_days) == (24, 120, 30)
    assert callbacks.allow_private_networks is False and callbacks.signing_secret == ""
    assert (callbacks.connect_timeout_seconds, callbacks.timeout_seconds) == (5.0, 15.0)


def test_settings_are_read():
    secret = new_secret()
    callbacks = Config.from_env({**BASE, "DIALER_CALLBACK_SIGNING_SECRET": secret,
                                 "DIALER_CALLBACK_RETRY_SCHEDULE": "0, 10,60", "DIALER_CALLBACK_CONCURRENCY": "3",
                                 "DIALER_CALLBACK_ALLOW_PRIVATE_NETWORKS": "true"}).callbacks
    assert callbacks.signing_secret == secret and callbacks.retry_schedule == (0, 10, 60)
    assert callbacks.concurrency == 3 and callbacks.allow_private_networks is True


@pytest.mark.parametrize("value", ["not-a-secret", "whsec_short", "whsec_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
                                   "c2VjcmV0LXdpdGhvdXQtdGhlLXByZWZpeC0wMTIzNA=="])
def test_a_malformed_signing_secret_stops_start_up_without_quoting_it(value):
    with pytest.raises(ConfigError) as refused:
        Config.from_env({**BASE, "DIALER_CALLBACK_SIGNING_SECRET": value})
    assert "DIALER_CALLBACK_SIGNING_SECRET" in str(refused.value) and value not in str(refused.value)


@pytest.mark.parametrize("value", ["", "x", "1,-5"])
def test_a_bad_retry_schedule_stops_start_up(value):
    if value == "":
        assert Config.from_env({**BASE, "DIALER_CALLBACK_RETRY_SCHEDULE": value}).callbacks.retry_schedule
        return
    with pytest.raises(ConfigError, match="DIALER_CALLBACK_RETRY_SCHEDULE"):
        Config.from_env({**BASE, "DIALER_CALLBACK_RETRY_SCHEDULE": value})


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("192.168.1.1", "private"), ("169.254.169.254", "metadata"),
    ("::1", "loopback"), ("fe80::1", "link-local"), ("224.0.0.1", "multicast"), ("::ffff:127.0.0.1", "loopback"),
    ("0.0.0.0", "unspecified"), ("fd00:ec2::254", "metadata")])
def test_forbidden_addresses_are_named(address, reason):
    assert reason in forbidden_reason(address)


def test_public_addresses_are_allowed():
    assert forbidden_reason("93.184.215.14") is None and forbidden_reason("2a00:1450:4001::200e") is None


@pytest.mark.parametrize("url, rule", [
    ("http://93.184.215.14/x", "https://"), ("https:///x", "name a host"), ("https://u:p@93.184.215.14/", "credentials"),
    ("https://93.184.215.14/#f", "fragment"), ("https://93.184.215.14:99999/", "valid URL")])
def test_url_rules_are_named(url, rule):
    with pytest.raises(UnsafeURLError, match=rule):
        check_callback_url(url, require_https=True, allow_private=True)
