"""EPUB (2 and 3) with zipfile: container.xml -> OPF -> spine order -> each XHTML
document through the HTML reader, its h1-h6 headings kept. No ebooklib (AGPL).

The package's title, authors, description (a blurb, often nowhere in the book's pages) and
subjects come first, as a catalogue card; a card that would say only what the first pages
already do is left out."""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from app.core.errors import DamagedFile, EncryptedFile
from app.core.parse import Section
from app.core.parse._common import describe, open_zip, read_member

_CONTAINER_NS = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_HTML_TYPES = ("application/xhtml+xml", "text/html", "application/x-dtbook+xml")


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse(path: str) -> list[Section]:
    with open_zip(path, "EPUB") as zf:
        return _read(zf)


def _read(zf: zipfile.ZipFile) -> list[Section]:
    from lxml import etree

    from app.core.parse.html import parse_html

    names = set(zf.namelist())
    xml_parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)

    def load(name: str) -> Any:
        try:
            root = etree.fromstring(read_member(zf, name, "EPUB"), xml_parser)
        except etree.XMLSyntaxError as exc:
            raise DamagedFile(f"damaged EPUB: {name}: {describe(exc)}") from None
        if root is None:
            raise DamagedFile(f"damaged EPUB: {name} is empty")
        return root

    if "META-INF/container.xml" not in names:
        raise DamagedFile("damaged EPUB: META-INF/container.xml is missing")
    container = load("META-INF/container.xml")
    rootfiles = container.iter(_CONTAINER_NS + "rootfile")
    rootfile = next((el.get("full-path", "") for el in rootfiles), "")
    opf_name = unquote(rootfile).lstrip("/")
    if opf_name not in names:
        raise DamagedFile("damaged EPUB: its package document (OPF) is missing")
    opf = load(opf_name)
    base = posixpath.dirname(opf_name)

    manifest: dict[str, tuple[str, str]] = {}
    spine: list[str] = []
    for el in opf.iter():
        name = _local(el.tag)
        if name == "item" and el.get("id") and el.get("href"):
            href = posixpath.normpath(posixpath.join(base, unquote(el.get("href").split("#")[0])))
            manifest[el.get("id")] = (href, el.get("media-type", ""))
        elif name == "itemref" and el.get("idref") and el.get("linear", "yes") != "no":
            spine.append(el.get("idref"))
    documents = [manifest[i][0] for i in spine if i in manifest and manifest[i][1] in _HTML_TYPES]
    if not documents:  # a spine without usable entries: fall back to the manifest's order
        documents = [href for href, mtype in manifest.values() if mtype in _HTML_TYPES]

    encrypted = _encrypted(names, load)
    if encrypted and any(d in encrypted for d in documents):
        raise EncryptedFile("DRM-protected EPUB (its text is encrypted)")

    sections: list[Section] = []
    seen: set[str] = set()
    for doc in documents:
        if doc in seen or doc not in names:
            continue
        seen.add(doc)
        sections.extend(parse_html(read_member(zf, doc, "EPUB"), with_title=False))
    card = _card(opf, " ".join(s.text for s in sections[:3]).casefold())
    return ([Section(card, None)] if card else []) + sections


def _card(opf: Any, opening: str) -> str:
    """Title, authors, description and subjects from the package's Dublin Core metadata."""
    from app.core.parse._common import clean_prose
    from app.core.parse.html import parse_html

    meta = next((el for el in opf if _local(el.tag) == "metadata"), None)
    if meta is None:
        return ""
    found: dict[str, list[str]] = {}
    for el in meta.iter():
        name = _local(el.tag)
        if name in ("title", "creator", "description", "subject") and (t := " ".join("".join(el.itertext()).split())):
            found.setdefault(name, []).append(t)
    head = [x for x in (", ".join(found.get("title", [])[:1]), ", ".join(found.get("creator", []))) if x]
    blurb = []
    for d in found.get("description", [])[:1]:
        if "<" in d:  # publishers put HTML in it, escaped
            d = clean_prose(" ".join(s.text for s in parse_html(d, with_title=False)))
        blurb = [d] if d else []
    subjects = ", ".join(found.get("subject", []))
    if not blurb and not subjects and all(x.casefold() in opening for x in head):
        return ""
    return "\n\n".join(x for x in ("\n".join(head), *blurb, subjects) if x)


def _encrypted(names: set[str], load: Callable[[str], Any]) -> set[str]:
    """Paths that META-INF/encryption.xml says are encrypted (fonts are merely obfuscated,
    which is why the spine documents are what is checked)."""
    if "META-INF/encryption.xml" not in names:
        return set()
    root = load("META-INF/encryption.xml")
    refs = (el for el in root.iter() if _local(el.tag) == "CipherReference")
    return {unquote(el.get("URI", "")).lstrip("/") for el in refs}
