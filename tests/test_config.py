"""Config: search order, data-home overrides, strict validation, the documented example."""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from pathlib import Path

import pytest

from batchops import config as config_mod
from batchops.config import Config, load_config, parse_config
from batchops.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "batchops.toml.example"
# conftest's ``home`` stubs user_config_path(); the precedence test wants the real one
REAL_USER_CONFIG_PATH = config_mod.user_config_path


def _write(path: Path, school: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'school_name = "{school}"\n', encoding="utf-8")
    return path


@pytest.fixture
def four_configs(home, tmp_path, monkeypatch):
    """One config file at each place in the search order, each naming a different school."""
    explicit = _write(tmp_path / "explicit" / "explicit.toml", "explicit")
    env = _write(tmp_path / "env" / "env.toml", "env")
    cwd = _write(tmp_path / "batchops.toml", "cwd")  # home chdir'ed into tmp_path
    user_dir = tmp_path / "platform-config" / "batchops"
    user = _write(user_dir / "batchops.toml", "user")
    # exercise the real user_config_path(): point platformdirs at our folder
    monkeypatch.setattr(config_mod, "user_config_path", REAL_USER_CONFIG_PATH)
    import platformdirs

    monkeypatch.setattr(
        platformdirs, "user_config_dir", lambda appname=None, *a, **k: str(tmp_path / "platform-config" / appname)
    )
    monkeypatch.setenv("BATCHOPS_CONFIG", str(env))
    return {"explicit": explicit, "env": env, "cwd": cwd, "user": user}


def test_search_order(four_configs, monkeypatch):
    files = four_configs
    cfg = load_config(files["explicit"])
    assert (cfg.school_name, cfg.source) == ("explicit", str(files["explicit"]))

    assert load_config().school_name == "env"

    monkeypatch.delenv("BATCHOPS_CONFIG")
    assert load_config().school_name == "cwd"

    files["cwd"].unlink()
    cfg = load_config()
    assert cfg.school_name == "user"
    assert cfg.source == str(files["user"])

    files["user"].unlink()
    cfg = load_config()
    assert cfg.school_name == Config().school_name
    assert cfg.source == "(defaults)"


def test_explicit_beats_env_even_when_both_exist(four_configs):
    assert load_config(str(four_configs["explicit"])).school_name == "explicit"


def test_missing_explicit_or_env_file_is_an_error(home, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    monkeypatch.setenv("BATCHOPS_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match="BATCHOPS_CONFIG"):
        load_config()


def test_data_home_overrides(home, tmp_path, monkeypatch):
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text(f'data_dir = "{(tmp_path / "from-file").as_posix()}"\n', encoding="utf-8")
    # BATCHOPS_HOME (set by the home fixture) beats data_dir in the file
    assert load_config(cfg_file).home == home.resolve()
    # --home beats BATCHOPS_HOME
    assert load_config(cfg_file, home=tmp_path / "flag").home == (tmp_path / "flag").resolve()
    # without either, the file's data_dir
    monkeypatch.delenv("BATCHOPS_HOME")
    assert load_config(cfg_file).home == (tmp_path / "from-file").resolve()
    # with nothing at all, the platform's user data dir
    monkeypatch.setattr(config_mod, "default_data_dir", lambda: tmp_path / "platform-data")
    assert load_config().home == tmp_path / "platform-data"


def test_read_only_from_env(home, monkeypatch):
    assert load_config().read_only is False
    monkeypatch.setenv("BATCHOPS_READ_ONLY", "1")
    assert load_config().read_only is True


STORAGE_ENV = (
    "BATCHOPS_STORAGE_URL",
    "BATCHOPS_STORAGE_ENDPOINT_URL",
    "BATCHOPS_STORAGE_REGION",
    "BATCHOPS_STORAGE_ACCESS_KEY_ID",
)


def test_storage_from_env_overrides_the_file(home, tmp_path, monkeypatch):
    path = tmp_path / "batchops.toml"
    path.write_text(
        '[storage]\nurl = "s3://file-bucket/a"\nendpoint_url = "http://file:9000"\n'
        'region = "eu-west-1"\naccess_key_id = "from-file"\n',
        encoding="utf-8",
    )
    for var in STORAGE_ENV:
        monkeypatch.delenv(var, raising=False)
    assert load_config(path).storage.url == "s3://file-bucket/a"
    monkeypatch.setenv("BATCHOPS_STORAGE_URL", " s3://env-bucket/district ")
    monkeypatch.setenv("BATCHOPS_STORAGE_ENDPOINT_URL", "http://minio.lan:9000")
    monkeypatch.setenv("BATCHOPS_STORAGE_REGION", "us-east-2")
    monkeypatch.setenv("BATCHOPS_STORAGE_ACCESS_KEY_ID", "from-env")
    storage = load_config(path).storage
    assert (storage.url, storage.endpoint_url, storage.region, storage.access_key_id) == (
        "s3://env-bucket/district",
        "http://minio.lan:9000",
        "us-east-2",
        "from-env",
    )
    assert storage.secret_key_env == "BATCHOPS_S3_SECRET_KEY"  # the secret itself never sits in the config


def test_empty_storage_env_keeps_the_file_or_the_data_home(home, tmp_path, monkeypatch):
    for var in STORAGE_ENV:
        monkeypatch.setenv(var, "  ")
    assert load_config().storage.url == ""
    path = tmp_path / "batchops.toml"
    path.write_text('[storage]\nurl = "s3://file-bucket/a"\n', encoding="utf-8")
    assert load_config(path).storage.url == "s3://file-bucket/a"


def test_bad_storage_url_from_env_is_a_config_error(home, monkeypatch):
    monkeypatch.setenv("BATCHOPS_STORAGE_URL", "/srv/shared/batchops")
    with pytest.raises(ConfigError, match="storage.url in BATCHOPS_STORAGE_URL must look like s3://bucket/prefix"):
        load_config()


def _load_text(tmp_path: Path, text: str):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path, load_config(path)


@pytest.mark.parametrize(
    "text, key",
    [
        ("school = 'x'\n", "school"),
        ("[smtp]\nhots = 'mail.example.org'\n", "smtp.hots"),
        ("[departments.Science]\nrequired = ['a']\n", "departments.Science.required"),
        ("[nonsense]\nx = 1\n", "nonsense"),
    ],
)
def test_unknown_key_names_key_and_file(home, tmp_path, text, key):
    with pytest.raises(ConfigError) as info:
        _load_text(tmp_path, text)
    msg = str(info.value)
    assert info.value.code == "E_CONFIG"
    assert repr(key) in msg or key in msg
    assert str(tmp_path / "bad.toml") in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    "text, key",
    [
        ("school_name = 5\n", "school_name"),
        ("[queue]\nworkers = 'two'\n", "queue.workers"),
        ("[queue]\nworkers = true\n", "queue.workers"),
        ("[smtp]\nstarttls = 'yes'\n", "smtp.starttls"),
        ("[pipeline]\ndefault_required_columns = 'student_id'\n", "pipeline.default_required_columns"),
        ("[pipeline]\ndefault_required_columns = ['a', 3]\n", "pipeline.default_required_columns[1]"),
        ("smtp = 'localhost'\n", "smtp"),
        ("[synonyms]\nstudent_id = 'Roll'\n", "synonyms.student_id"),
    ],
)
def test_wrong_type_names_key_and_file(home, tmp_path, text, key):
    with pytest.raises(ConfigError) as info:
        _load_text(tmp_path, text)
    msg = str(info.value)
    assert msg.startswith(f"E_CONFIG: {key} in {tmp_path / 'bad.toml'} must be")
    assert "\n" not in msg


def test_int_is_accepted_for_float(home, tmp_path):
    _, cfg = _load_text(tmp_path, "[pipeline]\nscore_max = 10\n")
    assert cfg.pipeline.score_max == 10.0 and isinstance(cfg.pipeline.score_max, float)


def test_bad_timezone(home, tmp_path):
    with pytest.raises(ConfigError, match="display_timezone.*Mars/Olympus"):
        _load_text(tmp_path, 'display_timezone = "Mars/Olympus"\n')


@pytest.mark.parametrize(
    "text, pattern",
    [
        ('[incidents]\ndefault_severity = "urgent"\n', "incidents.default_severity"),
        ('[worker]\ndefault_missed_policy = "sometimes"\n', "worker.default_missed_policy"),
        ("[pipeline]\nscore_min = 100\nscore_max = 0\n", "score_min"),
    ],
)
def test_value_checks(home, tmp_path, text, pattern):
    with pytest.raises(ConfigError, match=pattern):
        _load_text(tmp_path, text)


def test_bad_toml(home, tmp_path):
    with pytest.raises(ConfigError) as info:
        _load_text(tmp_path, "school_name = \n[[[\n")
    msg = str(info.value)
    assert "not valid TOML" in msg and str(tmp_path / "bad.toml") in msg
    assert "\n" not in msg


def test_parse_config_defaults_equal_dataclass_defaults():
    assert parse_config("") == Config(source="(string)")


# -- the documented example ---------------------------------------------------------------


def _settings(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name not in config_mod._NOT_SETTINGS]


def test_example_documents_every_setting():
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    hints = typing.get_type_hints(Config)
    missing = []
    for name in _settings(Config):
        if name not in data:
            missing.append(name)
        elif dataclasses.is_dataclass(hints[name]):
            missing += [f"{name}.{key}" for key in _settings(hints[name]) if key not in data[name]]
    for dept_name, dept in data.get("departments", {}).items():
        missing += [
            f"departments.{dept_name}.{key}" for key in _settings(config_mod.DepartmentConfig) if key not in dept
        ]
    assert not missing, f"batchops.toml.example lacks: {missing}"


def test_example_values_are_the_defaults(home):
    cfg = load_config(EXAMPLE)
    defaults = Config()
    for name in _settings(Config):
        if name in ("departments", "synonyms", "data_dir"):
            continue  # examples, and resolved from BATCHOPS_HOME
        assert getattr(cfg, name) == getattr(defaults, name), name
    assert "science" in {k.lower() for k in cfg.departments}
    assert cfg.required_columns("science")[:2] == ["student_id", "name"]
    assert cfg.synonyms


def test_cli_health_with_example_config(run_cli):
    proc = run_cli("--config", EXAMPLE, "health", "--json")
    # exit 1 only because the seeded jobs have no worker yet; the store itself is fine
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["checks"]["store"]["ok"] is True


def test_cli_bad_config_is_one_line_exit_2(run_cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[smtp]\nhots = 'x'\n", encoding="utf-8")
    proc = run_cli("--config", bad, "health")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error E_CONFIG:") and "smtp.hots" in lines[0] and str(bad) in lines[0]
    assert proc.stdout == ""
