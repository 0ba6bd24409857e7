import pytest

from config import Config, ConfigError, normalize_database_url
from service import create_app


def test_heroku_postgres_url_is_rewritten_to_psycopg():
    assert normalize_database_url("postgres://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert normalize_database_url("postgresql://h/d") == "postgresql+psycopg://h/d"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_production_without_secret_key_or_api_keys_refuses_to_start():
    with pytest.raises(ConfigError) as excinfo:
        Config.from_env({"APP_ENV": "production"})
    assert "SECRET_KEY" in str(excinfo.value) and "DIALER_API_KEYS" in str(excinfo.value)
    with pytest.raises(ConfigError, match="DIALER_API_KEYS"):
        Config.from_env({"SECRET_KEY": "s", "DIALER_API_KEYS": " , "})


def test_production_is_the_default_environment():
    config = Config.from_env({"SECRET_KEY": "s", "DIALER_API_KEYS": "a, b", "DIALER_SENDER_BACKEND": "daktela",
                              "DAKTELA_URL": "https://acme.daktela.com", "DAKTELA_ACCESS_TOKEN": "t",
                              "DAKTELA_AUTODIALER_RECORD_TYPE": "tts"})
    assert config.app_env == "production"
    assert config.api_keys == ("a", "b")
    assert config.database_url.startswith("sqlite:///") and config.database_url.endswith(".sqlite3")


def test_environment_values_are_typed_and_validated():
    config = Config.from_env(
        {
            "APP_ENV": "development",
            "DATABASE_URL": "postgres://db/x",
            "DIALER_DEFAULT_PHONE_REGION": "cz",
            "DIALER_SENDER_BACKEND": "tests.support.backends.RecordingBackend",
        }
    )
    assert config.database_url == "postgresql+psycopg://db/x"
    assert config.default_phone_region == "CZ"
    assert config.sender_backend == "tests.support.backends.RecordingBackend"
    with pytest.raises(ConfigError, match="APP_ENV"):
        Config.from_env({"APP_ENV": "staging"})
    with pytest.raises(ConfigError, match="DIALER_DEFAULT_PHONE_REGION"):
        Config.from_env({"APP_ENV": "development", "DIALER_DEFAULT_PHONE_REGION": "XX"})


@pytest.mark.parametrize(
    "backend, message",
    [
        ("tests.support.backends.NotABackend", "not a DialerBackend subclass"),
        ("tests.support.nothing_here.Backend", "cannot import module"),
        ("tests.support.backends.Missing", "has no 'Missing'"),
        ("nodots", "dotted path"),
    ],
)
def test_bad_backend_setting_fails_at_start_up(make_config, backend, message):
    with pytest.raises(ValueError, match=message):
        create_app(make_config(sender_backend=backend))


def test_template_model_must_be_a_mapped_template(make_config):
    with pytest.raises(ValueError, match="DIALER_TEMPLATE_MODEL"):
        create_app(make_config(template_model="service.models.template.AbstractDialerTemplate"))


def test_daktela_and_tracking_settings_are_read_and_checked():
    config = Config.from_env({
        "APP_ENV": "development", "DAKTELA_STATES_MAPPING": '{"statuses_a": "DECLINED"}',
        "DAKTELA_WEBHOOK_SECRETS": "new, old", "DAKTELA_TIMEZONE": "UTC", "DAKTELA_FINAL_ACTIONS": "5,4",
        "DIALER_CHECK_STATUS_INTERVAL_SECONDS": "30", "DIALER_BATCH_SENDING": "true", "DIALER_BATCH_SIZE": "50",
        "DIALER_WEBHOOK_GROUP_SIZE": "1",
    })
    assert config.daktela.states_mapping == {"statuses_a": "DECLINED"}
    assert config.daktela.webhook_secrets == ("new", "old") and config.daktela.final_actions == {4, 5}
    assert config.status.interval_seconds == 30 and config.batch.sending is True and config.batch.size == 50
    assert config.status.webhook_group_size == 1
    for name, value, message in [
        ("DAKTELA_STATES_MAPPING", '{"statuses_a": "HAPPY"}', "unknown states: HAPPY"),
        ("DAKTELA_STATES_MAPPING", "[1]", "JSON object"),
        ("DAKTELA_TIMEZONE", "Mars/Olympus", "DAKTELA_TIMEZONE"),
        ("DIALER_BATCH_SIZE", "0", "at least 1"),
        ("DIALER_WEBHOOK_GROUP_SIZE", "0", "at least 1"),
        ("DIALER_BATCH_SENDING", "maybe", "true or false"),
        ("DIALER_CHECK_STATUS_INTERVAL_SECONDS", "-1", "more than 0"),
    ]:
        with pytest.raises(ConfigError, match=message):
            Config.from_env({"APP_ENV": "development", name: value})


@pytest.mark.parametrize("backend", ["", "  "])
def test_production_without_a_named_backend_refuses_to_start(backend):
    with pytest.raises(ConfigError) as excinfo:
        Config.from_env({"SECRET_KEY": "s", "DIALER_API_KEYS": "k", "DIALER_SENDER_BACKEND": backend})
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith("Refusing to start in production without DIALER_SENDER_BACKEND")


def test_the_dummy_backend_runs_in_production_only_when_named():
    config = Config.from_env({"SECRET_KEY": "s", "DIALER_API_KEYS": "k", "DIALER_SENDER_BACKEND": "dummy"})
    assert config.sender_backend == "dummy"


def test_outside_production_the_backend_defaults_to_dummy():
    for app_env in ("development", "testing"):
        assert Config.from_env({"APP_ENV": app_env}).sender_backend == "dummy"


def test_production_daktela_backend_needs_its_settings():
    with pytest.raises(ConfigError, match="DAKTELA_URL, DAKTELA_ACCESS_TOKEN, DAKTELA_AUTODIALER_RECORD_TYPE"):
        Config.from_env({"SECRET_KEY": "s", "DIALER_API_KEYS": "k", "DIALER_SENDER_BACKEND": "daktela"})


def test_connection_pool_fits_the_web_threads_and_can_be_sized_for_a_plan():
    default = Config.from_env({"APP_ENV": "development", "DATABASE_URL": "postgres://db/x"})
    assert default.engine_options() == {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 11,
                                        "pool_timeout": 30.0}
    many_threads = Config.from_env({"APP_ENV": "development", "GUNICORN_THREADS": "32"})
    assert many_threads.database_pool_size + many_threads.database_max_overflow == 32
    sized = Config.from_env({"APP_ENV": "development", "DATABASE_POOL_SIZE": "2", "DATABASE_MAX_OVERFLOW": "0",
                             "DATABASE_POOL_TIMEOUT": "2.5"})
    assert (sized.database_pool_size, sized.database_max_overflow, sized.database_pool_timeout) == (2, 0, 2.5)
    assert Config.from_env({"APP_ENV": "development", "DATABASE_URL": "sqlite://"}).engine_options() == {
        "pool_pre_ping": True}
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE must be at least 1"):
        Config.from_env({"APP_ENV": "development", "DATABASE_POOL_SIZE": "0"})
    with pytest.raises(ConfigError, match="DATABASE_MAX_OVERFLOW must be an integer"):
        Config.from_env({"APP_ENV": "development", "DATABASE_MAX_OVERFLOW": "many"})
