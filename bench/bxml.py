"""BXML validation and generation speed, beside xmlschema alone, measured in the same run.

    python bench/bxml.py [--seconds 1.0] [--seed 0]

Prints documents/s for ``conformance.bxml.iter_errors`` on ~1 KB and ~32 KB valid documents,
the same for xmlschema alone (same XSD, same documents, ``iter_errors`` from text), their ratio,
the floor (bare lxml parse + XSD validate) and our share of it, the time of hostile documents,
and how many valid documents ``bxml_documents()`` generates per second.  Goals: at least 10x
xmlschema alone (issue 3); at least 0.8 of the floor at 1 KB (issue 11); any document within
the 64 KB limit validated in bounded time, aim under 50 ms (issue 11): the slowest of the
hostile 64 KB documents below is printed beside the floor's time for that same document.
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


#: Alternating rounds per measurement (see _rates).
_ROUNDS = 15


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


def _rates(
    works: list[Callable[[str], object]], documents: list[str], seconds: float, rounds: int = _ROUNDS
) -> list[tuple[float, float]]:
    """The best of ``rounds`` short measurements of each work, taken in turns: on a machine shared
    with other processes, a ratio of two rates measured a second apart varies by 2x; taken in
    alternating rounds, each at its best, the ratio holds still (with 5 rounds the 1 KB ratio
    still moved by +-0.08 from run to run on a busy 2-core machine, hence 15)."""
    best = [(0.0, 0.0) for _ in works]
    for _ in range(rounds):
        for index, work in enumerate(works):
            wall, cpu = _rate(work, documents, seconds / rounds)
            best[index] = (max(best[index][0], wall), max(best[index][1], cpu))
    return best


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


def _fill(unit: str, first: str = "") -> str:
    """``<Response>`` holding ``first`` and then as many ``unit`` as fit in 64 KB."""
    room = 65536 - len("<Response></Response>") - len(first.encode())
    return "<Response>" + first + unit * (room // len(unit.encode())) + "</Response>"


def _attributes(count: int, prefix: str = "a") -> str:
    return "".join(f' {prefix}{number}="1"' for number in range(count))


# Documents of up to 64 KB built to be slow: many errors of one kind, long values, deep SSML.
_FLOODS: dict[str, Callable[[], str]] = {
    "6,000 unknown attributes": lambda: "<Response><Pause" + _attributes(6000) + "/></Response>",
    "3,000 bad values": lambda: _fill("<Pause duration='0'/>"),
    "9,000 unknown verbs": lambda: _fill("<Nope/>"),
    "3,600 texts in verbs": lambda: _fill("<Hangup>x</Hangup>"),
    "1,300 warnings": lambda: _fill("<Forward to='+15551230000' diversionReason='away'/>"),
    "700 gather limits": lambda: _fill(
        "<Gather repeatCount='11'><PlayAudio>a</PlayAudio><PlayAudio>b</PlayAudio></Gather>"
    ),
    "ns attributes": lambda: "<Response xmlns:x='urn:x'><Pause" + _attributes(4800, "x:a") + "/></Response>",
    "1,000 elements x 39 attrs": lambda: _fill("<Pause" + _attributes(39) + "/>"),
    "64 KB URL value": lambda: "<Response><Redirect redirectUrl='" + "a" * 65000 + " '/></Response>",
    "deep SSML, many": lambda: _fill("<SpeakSentence>" + "<s>" * 28 + "a" + "</s>" * 28 + "</SpeakSentence>"),
    "SSML siblings": lambda: (
        "<Response><SpeakSentence>" + "<s x='1'>a</s>" * 4600 + "</SpeakSentence></Response>"
    ),
    "60,000-digit integer": lambda: "<Response><Gather repeatCount='" + "9" * 65000 + "'/></Response>",
    "2,400 namespaces": lambda: (
        "<Response " + " ".join(f'xmlns:n{n}="urn:{n}"' for n in range(2400)) + "><Hangup/></Response>"
    ),
    "7,200 verbs, conference": lambda: _fill("<Hangup/>"),
    "2,200 Forwards + StartGather": lambda: _fill(
        "<Forward to='+15551230000'/>", "<StartGather dtmfUrl='https://a.example/d'/>"
    ),
}
#: The context a flood is validated in, when not "call".
_FLOOD_CONTEXTS = {"7,200 verbs, conference": "conference"}


def _floods(floor: Callable[[str], object]) -> None:
    print("hostile 64 KB input       bytes  problems   ms (iter_errors)   ms (floor: lxml parse + XSD)")
    worst: tuple[float, str, float] = (0.0, "", 0.0)
    for label, make in _FLOODS.items():
        document = make()
        while len(document.encode()) > 65536:  # keep every case within the limit
            document = document.replace(" ", "", 1) if label == "64 KB URL value" else document[:-200]
        context = _FLOOD_CONTEXTS.get(label, "call")
        mine = _best_ms(lambda d=document, c=context: list(iter_errors(d, c)))
        count = len(list(iter_errors(document, context)))
        try:
            reference = _best_ms(lambda d=document: floor(d))
        except etree.XMLSyntaxError:
            reference = float("nan")
        print(f"{label:<24}{len(document.encode()):>8}{count:>10}{mine:>14.1f}{reference:>16.1f}")
        if mine > worst[0]:
            worst = (mine, label, reference)
    print(f"worst case: {worst[1]}: {worst[0]:.1f} ms (floor on the same document: {worst[2]:.1f} ms)")


def _best_ms(work: Callable[[], object], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best * 1000


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
    parser.add_argument(
        "--seconds", type=float, default=1.0, help=f"time per measurement (in {_ROUNDS} rounds)"
    )
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

    print(
        f"documents/s, best of {_ROUNDS} alternating rounds "
        "(wall clock; per CPU second in brackets, steadier)"
    )
    print(f"{'documents':<14}{'avg bytes':>10}{'iter_errors':>24}{'xmlschema alone':>22}{'ratio':>8}")
    for label, size, count in (("~1 KB valid", 1024, 40), ("~32 KB valid", 32 * 1024, 8)):
        documents = _documents(size, count, args.seed)
        average = sum(len(d.encode()) for d in documents) // len(documents)
        (mine, mine_cpu), (ref, ref_cpu), (bare, bare_cpu) = _rates(
            [ours, theirs, floor], documents, args.seconds
        )
        print(
            f"{label:<14}{average:>10}{mine:>12,.0f} ({mine_cpu:>9,.0f}){ref:>10,.0f} ({ref_cpu:>9,.0f})"
            f"{mine_cpu / ref_cpu:>7.1f}x"
        )
        print(
            f"{'':<14}{'':>10}  bare lxml parse + XSD validate (the floor): {bare:,.0f} ({bare_cpu:,.0f});"
            f" iter_errors / floor: {mine_cpu / bare_cpu:.2f}"
        )
    _hostile()
    _floods(floor)
    generated = _generation_rate(args.seconds, args.seed)
    print(f"valid documents generated per second (bxml_documents()): {generated:,.0f}")


if __name__ == "__main__":
    main()
