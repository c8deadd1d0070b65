"""The cross-SDK BXML documents: how many are accepted, and how fast they are validated.

    python bench/bxml_sdk.py [--seconds 1.0]

Reads the documents written in the shape of each official SDK's output
(``tests/bxml/cross_sdk/``) and the documented examples (``tests/bxml/examples.py``), and prints

* ``cross-SDK documents accepted: N/M`` (the documents the platform accepts; aim M/M), with the
  ones refused and why, and per source;
* how many of the known SDK defects (``refused/``) are refused for their named rule;
* documents/s for ``conformance.bxml.iter_errors`` beside bare lxml (parse + XSD validate, no
  code rules, no explanations) over the same documents, measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from conformance.bxml import iter_errors
from conformance.bxml.schema import lxml_schema

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from bxml.cross_sdk import SOURCES, load
from bxml.examples import EXAMPLES


def _rate(work: Callable[[str], object], documents: list[str], seconds: float) -> float:
    """Documents per wall-clock second over ``documents``, repeated for about ``seconds``."""
    done = 0
    start = time.perf_counter()
    while True:
        for document in documents:
            work(document)
        done += len(documents)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def _bare_lxml(document: str) -> bool:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return bool(lxml_schema().validate(etree.fromstring(document.encode(), parser)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()

    documents = load()
    accept = [(d.name, d.text) for d in documents if d.must_accept]
    accept += [(f"docs/{name}", text) for name, text in sorted(EXAMPLES.items())]
    refused = [d for d in documents if not d.must_accept]

    failures = {name: sorted({e.rule for e in iter_errors(text)}) for name, text in accept}
    failures = {name: rules for name, rules in failures.items() if rules}
    print(f"cross-SDK documents accepted: {len(accept) - len(failures)}/{len(accept)}")
    for source in (*SOURCES, "docs"):
        mine = [name for name, _ in accept if name.startswith(f"{source}/")]
        ok = sum(1 for name in mine if name not in failures)
        print(f"  {source:7} {ok}/{len(mine)}")
    for name, rules in sorted(failures.items()):
        print(f"  refused: {name}: {', '.join(rules)}")
    named = sum(1 for d in refused if d.refused_for in {e.rule for e in iter_errors(d.text)})
    print(f"known SDK defects refused for their rule: {named}/{len(refused)}")

    texts = [text for _, text in accept]
    size = sum(len(t.encode()) for t in texts) / len(texts)
    ours = _rate(lambda t: list(iter_errors(t)), texts, args.seconds)
    bare = _rate(_bare_lxml, texts, args.seconds)
    print(f"validation over {len(texts)} documents (mean {size:.0f} bytes):")
    print(f"  iter_errors             {ours:10.0f} documents/s")
    print(f"  lxml parse + XSD alone  {bare:10.0f} documents/s")
    print(f"  iter_errors / lxml      {ours / bare:10.2f}")


if __name__ == "__main__":
    main()
