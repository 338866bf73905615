"""The Public Suffix List snapshot bundled with tldextract, looked up without importing tldextract.

tldextract's first lookup imports requests, opens a requests session (to find no URL to fetch) and builds
two suffix tries, with and without the list's private section: about 0.27 s of CPU at each process's first
domain. A host `sync_rules.domains.plain_host` reads needs only the walk of its labels down one trie (the
private section included), which this module builds from the same file parsed the same way, and walks as
tldextract's `_PublicSuffixListTLDExtractor.suffix_index` walks its trie
(tests/unit/sync_rules/test_domains.py holds the two equal around every rule of the list).
"""

import importlib.util
import re
from functools import cache
from pathlib import Path

import idna

# As tldextract.suffix_list parses the list.
_RULE = re.compile(r"^(?P<suffix>[.*!]*\w[\S]*)", re.UNICODE | re.MULTILINE)
_PRIVATE_SECTION = "// ===BEGIN PRIVATE DOMAINS==="


class _Node:
    """A label of a rule, read from the right: the labels below it, and whether a rule ends here."""

    __slots__ = ("end", "matches")

    def __init__(self) -> None:
        self.matches: dict[str, _Node] = {}
        self.end = False


def snapshot_text() -> str:
    """The bundled list (`tldextract/.tld_set_snapshot`, what tldextract reads with no URL to fetch);
    found without importing the package."""
    spec = importlib.util.find_spec("tldextract")
    if spec is None or spec.origin is None:
        raise RuntimeError("tldextract's bundled Public Suffix List is not installed")
    return (Path(spec.origin).parent / ".tld_set_snapshot").read_bytes().decode("utf-8")


def rules_of(text: str) -> list[str]:
    """The rules of a list's text, its public section then its private one (both count here)."""
    public, _, private = text.partition(_PRIVATE_SECTION)
    return [m.group("suffix") for part in (public, private) for m in _RULE.finditer(part)]


@cache
def _trie() -> _Node:
    root = _Node()
    for rule in rules_of(snapshot_text()):
        node = root
        for label in reversed(rule.split(".")):
            child = node.matches.get(label)
            if child is None:
                child = node.matches[label] = _Node()
            node = child
        node.end = True
    return root


def _decoded(label: str) -> str:
    lowered = label.lower()
    if lowered.startswith("xn--"):
        try:
            return str(idna.decode(lowered))
        except (UnicodeError, IndexError):
            pass
    return lowered


def suffix_start(labels: list[str]) -> int | None:
    """The index of the first label of the public suffix of a host's `labels` (private rules included),
    None when no rule matches: tldextract's `suffix_index(labels, include_psl_private_domains=True)[0][0]`."""
    node = _trie()
    suffix_index = label_index = len(labels)
    for label in reversed(labels):
        decoded = _decoded(label)
        child = node.matches.get(decoded)
        if child is not None:
            label_index -= 1
            node = child
            if node.end:
                suffix_index = label_index
            continue
        if "*" in node.matches:
            return label_index if "!" + decoded in node.matches else label_index - 1
        break
    return None if suffix_index == len(labels) else suffix_index
