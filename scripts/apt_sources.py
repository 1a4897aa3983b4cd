"""The host's own apt sources, read as apt reads them (one-line .list files
and deb822 .sources files under /etc/apt), so that CI's fresh Debian roots
and the upstream-source fetcher use the mirrors this machine is configured
with rather than one written into the repository.

Overrides, for a local mirror or an apt proxy (docs/testing.md):
SESSION_APT_MIRROR replaces every non-security mirror and
SESSION_APT_SECURITY_MIRROR the security one."""
from __future__ import annotations

import glob
import os
import re


def _is_security(uri: str, suites: list[str]) -> bool:
    return uri.rstrip("/").endswith("-security") or any(s.endswith("-security") for s in suites)


def host_sources() -> list[tuple[str, list[str], list[str], str]]:
    """(uri, suites, components, signed_by) of each deb source apt uses."""
    out = []
    files = glob.glob("/etc/apt/sources.list") + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
    for path in files:
        for line in open(path, encoding="utf-8", errors="replace"):
            line = line.split("#", 1)[0].strip()
            m = re.match(r"deb\s+(\[[^]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)", line)
            if m:
                opts = m.group(1) or ""
                signed = re.search(r"signed-by=(\S+?)\]?(\s|$)", opts)
                out.append((m.group(2), [m.group(3)], m.group(4).split(), signed.group(1) if signed else ""))
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", open(path, encoding="utf-8", errors="replace").read()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
                continue
            for uri in fields.get("uris", "").split():
                out.append((uri, fields.get("suites", "").split(), fields.get("components", "").split(),
                            fields.get("signed-by", "")))
    main = os.environ.get("SESSION_APT_MIRROR")
    security = os.environ.get("SESSION_APT_SECURITY_MIRROR")
    out = [((security or uri) if _is_security(uri, s) else (main or uri), s, c, k) for uri, s, c, k in out]
    return [s for s in out if s[1] and s[0].startswith(("http://", "https://", "file:"))]


def mirrors() -> tuple[str, str]:
    """The Debian mirror and the security mirror the host uses: the first
    source of each kind (the security one may be empty)."""
    sources = host_sources()
    main = next((u for u, s, _, _ in sources if not _is_security(u, s)), "")
    security = next((u for u, s, _, _ in sources if _is_security(u, s)), "")
    return main, security
