"""What every conversion returns, the llmport marker kept in a deployment, and YAML access."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmport.errors import ConfigurationError

if TYPE_CHECKING:
    from llmport.profiles import Profiles

#: The `model_info` key under which an export keeps what only llmport reads.
MARKER = "llmport"
#: How a LiteLLM config names an environment variable instead of a value.
ENV_PREFIX = "os.environ/"
#: Header names whose values are credentials (never written to a file).
SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})


@dataclass(frozen=True)
class Note:
    """Something the other format cannot say: the file, the key, and the reason."""

    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}"


@dataclass(frozen=True)
class Converted:
    """The result of a conversion: the data, its text, and what could not be carried over."""

    data: dict[str, Any]
    text: str
    notes: tuple[Note, ...] = field(default=())


def import_yaml() -> Any:
    """PyYAML, imported only when a conversion needs it."""
    try:
        import yaml
    except ImportError:  # pragma: no cover - litellm depends on PyYAML
        raise ConfigurationError("PyYAML is required: pip install pyyaml") from None
    return yaml


def dump_yaml(data: dict[str, Any], header: list[str]) -> str:
    """`data` as block-style YAML in key order, below `header` written as comments."""
    yaml = import_yaml()

    # A group's deployment repeats its first member's parameters: write them out again
    # rather than as a YAML alias.
    dumper = type("Dumper", (yaml.SafeDumper,), {"ignore_aliases": lambda self, data: True})
    body = yaml.dump(data, Dumper=dumper, sort_keys=False, width=100)
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header)
    return comments + str(body)


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping a YAML file holds.

    Raises:
        ConfigurationError: the file cannot be read, is not YAML, or is not a mapping.
    """
    yaml = import_yaml()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: file: must be a mapping (model_list, ...)")
    return data


def read_profiles(path: str | os.PathLike[str] | None) -> Profiles:
    """Read and check a profiles file (default `LLMPORT_CONFIG`) without making it active.

    Raises:
        ConfigurationError: no file is named, or it is not a valid profiles file.
    """
    from llmport.profiles import CONFIG_ENV, _read

    if path is None:
        path = os.environ.get(CONFIG_ENV, "").strip()
        if not path:
            raise ConfigurationError(f"no profiles file: pass --config or set {CONFIG_ENV}")
    return _read(Path(path))
