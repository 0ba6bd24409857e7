"""The documentation and the configuration agree."""
import re
from pathlib import Path

from config import Config

ROOT = Path(__file__).resolve().parents[2]


def _env_example() -> dict:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_env_example_is_a_valid_production_configuration():
    config = Config.from_env(_env_example())
    assert config.app_env == "production" and config.sender_backend == "daktela"
    assert config.daktela.states_mapping == {"statuses_5c1394ec6ea23488631693": "ANSWERED_COMPLETE"}


def test_every_setting_config_reads_is_documented():
    source = (ROOT / "config.py").read_text()
    names = set(re.findall(r'"((?:DIALER|DAKTELA|APP|DATABASE|SECRET|LOG)_?[A-Z_]*)"', source))
    names = {name for name in names if name.isupper() and len(name) > 6}
    readme = (ROOT / "README.md").read_text()
    assert names, "no setting names found in config.py"
    assert sorted(name for name in names if f"`{name}`" not in readme) == []
    assert sorted(name for name in names if name not in _env_example()) == []


def _repository_texts():
    patterns = ("*.md", "docs/*.md", "Makefile", "Procfile", ".env.example", "*.py", "service/**/*.py",
                "daktela_simulator/**/*.py", "scripts/*.py", "bench/*.py", "migrations/**/*.py", ".ci/*")
    for pattern in patterns:
        for path in ROOT.glob(pattern):
            if path.is_file():
                yield path, path.read_text(errors="replace")


def test_a_fresh_clone_depends_on_nothing_outside_it():
    outside = [f"{path.relative_to(ROOT)}: {match}" for path, text in _repository_texts()
               for match in re.findall(r"(?<![\w.])\.\./[\w./-]+|/work/[\w./-]+", text)]
    assert outside == []
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)", path.read_text()):
            if not re.match(r"[a-z]+:", target):
                resolved = (path.parent / target).resolve()
                assert resolved.is_relative_to(ROOT) and resolved.exists(), (path.name, target)
