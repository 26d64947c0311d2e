"""What every conversion returns, the llmport marker kept in a deployment, and YAML access."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from llmport.errors import ConfigurationError

if TYPE_CHECKING:
    from llmport.profiles import Profiles

#: The `model_info` key under which an export keeps what only llmport reads.
MARKER = "llmport"
#: How a LiteLLM config names an environment variable instead of a value.
ENV_PREFIX = "os.environ/"
#: A setting, header or query parameter whose name says its value is a credential.
_CREDENTIAL_NAME = re.compile(
    r"(^|_)(authorization|api_?key|access_key|subscription_key|secret|password|passwd"
    r"|credentials?|cookie|(?<!per_)token)($|_)|^(key|sig|signature|auth)$"
)


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


def is_credential_name(name: object) -> bool:
    """Whether a setting, header or query parameter called `name` holds a credential."""
    return bool(_CREDENTIAL_NAME.search(str(name).lower().replace("-", "_")))


def url_has_credential(url: object) -> bool:
    """Whether `url` carries a credential: `user:password@`, `token@`, or `?key=...`."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        user = parts.username
    except ValueError:  # a malformed URL: its parts cannot be told apart
        return "@" in url
    query = parse_qsl(parts.query, keep_blank_values=True)
    return bool(user or parts.password) or any(is_credential_name(name) for name, _ in query)


def credential_keys(value: Any, prefix: str = "") -> list[str]:
    """The dotted keys of every credential-named entry in nested mappings under `value`."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{prefix}{key}"
            if is_credential_name(key) and not _is_env_reference(item):
                found.append(where)
            else:
                found += credential_keys(item, f"{where}.")
    return found


def _is_env_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(ENV_PREFIX)


def drop_credentials(params: dict[str, Any]) -> list[str]:
    """Remove every literal credential from `params`; the keys removed, dotted."""
    found: list[str] = []
    for key in ("api_base", "base_url"):
        if url_has_credential(params.get(key)):
            del params[key]
            found.append(key)
    headers = params.get("extra_headers")
    if isinstance(headers, dict):
        secret = [name for name in headers if is_credential_name(name)]
        params["extra_headers"] = {k: v for k, v in headers.items() if k not in secret}
        found += [f"extra_headers.{name}" for name in secret]
    rest = {k: v for k, v in params.items() if k != "extra_headers"}
    for key in rest:
        del params[key]
    params.update(_without_credentials(rest, "", found))
    return found


def _without_credentials(value: Any, where: str, found: list[str]) -> Any:
    """`value` without the credential-named entries of its mappings, whose keys go to `found`."""
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        if is_credential_name(key) and not (isinstance(item, str) and item.startswith(ENV_PREFIX)):
            found.append(f"{where}{key}")
        else:
            kept[key] = _without_credentials(item, f"{where}{key}.", found)
    return kept


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
    return "".join(f"{line}\n" for line in comment_lines(header)) + str(body)


def comment_lines(header: list[str]) -> list[str]:
    """`header` as `#` comment lines, a line break or control character inside one escaped."""
    return [f"# {_printable(line)}" if line else "#" for line in header]


def _printable(text: str) -> str:
    # A break inside a comment would end it, and the rest would be read as data.
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping a YAML file holds.

    Raises:
        ConfigurationError: the file cannot be read, is not YAML, or is not a mapping.
    """
    from llmport._profile_check import read_text

    yaml = import_yaml()
    text = read_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigurationError(f"{where}: invalid YAML: {' '.join(problem.split())}") from None
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


def read_proxy_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A LiteLLM proxy config with its `include` files merged in, as the proxy merges them.

    Each included file is found next to the file that names it (else next to the first
    file), read once, and merged key by key: a list extends the list before it, any
    other value replaces it. Included files may include others.

    Raises:
        ConfigurationError: a file cannot be read, is not YAML, or is not a mapping, or
            `include` is not a list of file names.
    """
    root = Path(path)
    config = read_yaml(root)
    pending = [(entry, root) for entry in _includes(config, root)]
    loaded = {root.resolve()}
    while pending:
        entry, declared_in = pending.pop(0)
        found = declared_in.parent / entry
        if not found.exists() and (root.parent / entry).exists():
            found = root.parent / entry
        if found.resolve() in loaded:
            continue
        loaded.add(found.resolve())
        included = read_yaml(found)
        pending += [(more, found) for more in _includes(included, found)]
        for key, value in included.items():
            before = config.get(key)
            both_lists = isinstance(before, list) and isinstance(value, list)
            config[key] = before + value if both_lists else value
    config.pop("include", None)
    return config


def _includes(config: dict[str, Any], path: Path) -> list[str]:
    entries = config.pop("include", [])
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise ConfigurationError(f"{path}: include: must be a list of file names")
    return entries
