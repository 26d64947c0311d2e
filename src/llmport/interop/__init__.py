"""Profiles that travel: to and from a LiteLLM proxy config, and to LightEval.

    from llmport.interop import export_litellm_proxy, import_litellm_proxy
    exported = export_litellm_proxy(load_profiles("llmport.toml"))
    Path("config.yaml").write_text(exported.text)  # for `litellm --config`
    lost = [str(note) for note in exported.notes]  # what the proxy does not do as the profiles do

Each function returns a `Converted`: the data, its text (YAML or TOML), and the
`Note`s (file, key, reason) for what the other side cannot express.
"""

from llmport.interop._common import Converted, Note, read_profiles
from llmport.interop.lighteval import export_lighteval
from llmport.interop.proxy_export import export_litellm_proxy
from llmport.interop.proxy_import import import_litellm_proxy

__all__ = [
    "Converted",
    "Note",
    "export_lighteval",
    "export_litellm_proxy",
    "import_litellm_proxy",
    "read_profiles",
]
