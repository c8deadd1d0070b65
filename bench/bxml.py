"""BXML validation and generation speed, beside xmlschema alone, measured in the same run.

    python bench/bxml.py [--seconds 1.0] [--seed 0]

Prints documents/s for ``conformance.bxml.iter_errors`` on ~1 KB and ~32 KB valid documents,
the same for xmlschema alone (same XSD, same documents, ``iter_errors`` from text), their ratio,
and how many valid documents ``bxml_documents()`` generates per second.  The goal in issue 3:
at least 20,000 documents/s at 1 KB and at least 10x xmlschema alone.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

from lxml import etree

from conformance.bxml import iter_errors
from conformance.bxml.rules import CODE_RULES
from conformance.bxml.sampling import sample
from conformance.bxml.schema import lxml_schema, xmlschema_schema
from conformance.bxml.strategies import bxml_documents, root_elements, serialise


def _documents(target_bytes: int, count: int, seed: int) -> list[str]:
    """``count`` distinct valid documents of about ``target_bytes`` each, built from generated verbs."""
    verbs = [verb for root in sample(root_elements(max_verbs=6), 400, seed_value=seed) for verb in root]
    documents: list[str] = []
    cursor = 0
    while len(documents) < count:
        root = etree.Element("Response")
        while len(serialise(root, declaration=True)) < target_bytes:
            candidate = copy.deepcopy(verbs[cursor % len(verbs)])
            cursor += 1
            root.append(candidate)
            if len(serialise(root, declaration=True)) > target_bytes * 1.1:
                root.remove(candidate)
                if len(root) and len(serialise(root, declaration=True)) > target_bytes * 0.9:
                    break
        for rule in CODE_RULES:
            rule.repair(root)
        text = serialise(root, declaration=True, pretty=True)
        if not any(iter_errors(text)):
            documents.append(text)
    return documents


def _rate(work: Callable[[str], object], documents: list[str], seconds: float) -> tuple[float, float]:
    """Documents per wall-clock second and per CPU second of this process."""
    done = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    deadline = start + seconds
    while True:
        for document in documents:
            work(document)
        done += len(documents)
        now = time.perf_counter()
        if now >= deadline:
            cpu = max(time.process_time() - cpu_start, 1e-9)
            return done / (now - start), done / cpu


_HOSTILE = {
    "billion laughs": '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + "]><Response><Tag>&i;</Tag></Response>",
    "external entity": '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Response><Tag>&x;</Tag></Response>',
    "20,000-deep nesting": "<Response>" + "<p>" * 20000,
    "invalid UTF-8": b"<Response><Tag>\xff\xfe</Tag></Response>",
    "oversize (1 MB)": "<Response>" + " " * 1_000_000 + "</Response>",
}


def _hostile() -> None:
    print("hostile input         rule                  ms per document")
    for label, document in _HOSTILE.items():
        start = time.perf_counter()
        for _ in range(20):
            rules = [e.rule for e in iter_errors(document)]
        elapsed = (time.perf_counter() - start) / 20 * 1000
        print(f"{label:<22}{','.join(rules):<22}{elapsed:>8.3f}")


def _generation_rate(seconds: float, seed: int) -> float:
    batch = 50
    made = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        made += len(sample(bxml_documents(), batch, seed_value=seed + made))
    return made / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    reference = xmlschema_schema()

    def ours(document: str) -> object:
        return list(iter_errors(document))

    def theirs(document: str) -> object:
        return list(reference.iter_errors(document))

    floor_schema = lxml_schema()
    floor_parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

    def floor(document: str) -> object:
        return floor_schema.validate(etree.fromstring(document.encode(), floor_parser))

    print("documents/s (wall clock; per CPU second in brackets, steadier on a busy machine)")
    print(f"{'documents':<14}{'avg bytes':>10}{'iter_errors':>24}{'xmlschema alone':>22}{'ratio':>8}")
    for label, size, count in (("~1 KB valid", 1024, 40), ("~32 KB valid", 32 * 1024, 8)):
        documents = _documents(size, count, args.seed)
        average = sum(len(d.encode()) for d in documents) // len(documents)
        mine, mine_cpu = _rate(ours, documents, args.seconds)
        ref, ref_cpu = _rate(theirs, documents, args.seconds)
        print(
            f"{label:<14}{average:>10}{mine:>12,.0f} ({mine_cpu:>9,.0f}){ref:>10,.0f} ({ref_cpu:>9,.0f})"
            f"{mine_cpu / ref_cpu:>7.1f}x"
        )
        bare, bare_cpu = _rate(floor, documents, args.seconds)
        print(f"{'':<14}{'':>10}  bare lxml parse + XSD validate (the floor): {bare:,.0f} ({bare_cpu:,.0f})")
    _hostile()
    generated = _generation_rate(args.seconds, args.seed)
    print(f"valid documents generated per second (bxml_documents()): {generated:,.0f}")


if __name__ == "__main__":
    main()
