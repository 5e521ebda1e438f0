"""The parent's side of the worker channel: messages survive any chunking, the script's output
is only ever kept as a bounded tail, and results round-trip through JSON."""

from __future__ import annotations

import json
import os

from ganlint.runtime.protocol import Channel, MessageReader, Tail
from ganlint.runtime.result import FindingRef, RunReport, Status, Verdict


def test_messages_split_anywhere_are_reassembled():
    messages = [{"type": "progress", "step": i, "of": 9} for i in range(9)]
    data = "".join(json.dumps(m) + "\n" for m in messages).encode()
    for size in (1, 3, 17, len(data)):
        reader = MessageReader()
        got = []
        for start in range(0, len(data), size):
            got.extend(reader.feed(data[start:start + size]))
        assert got == messages


def test_lines_that_are_not_messages_are_ignored():
    reader = MessageReader()
    assert reader.feed(b'PROGRESS 1 2\n{"no": "type"}\n[1]\n{"type": "phase", "phase": "loading"}\n') == [
        {"type": "phase", "phase": "loading"}]


def test_a_huge_output_without_newlines_keeps_only_its_tail():
    tail = Tail(limit=1000)
    chunk = b"x" * 65536
    for _ in range(200):  # 13 MB
        tail.feed(chunk)
    tail.feed(b"END")
    assert tail.total == 200 * 65536 + 3
    assert len(tail.text()) == 1000 and tail.text().endswith("END")


def test_the_channel_writes_whole_messages_to_its_descriptor():
    read_end, write_end = os.pipe()
    Channel(write_end).send("phase", {"phase": "loaded", "seconds": 1.5})
    os.close(write_end)
    assert MessageReader().feed(os.read(read_end, 4096)) == [{"type": "phase", "phase": "loaded", "seconds": 1.5}]
    os.close(read_end)


def test_a_report_round_trips_through_json():
    finding = FindingRef("GAN101", "saturating-hidden-activation", "warning", "f.py", 12, 5, "m")
    report = RunReport(file="f.py", ok=True, steps_run=3, verdicts=[
        Verdict("GAN101", Status.CONFIRMED, "ratio 0.08", {"rms": float("nan"), "gain": float("inf")},
                ["G/grad/00_Dense/kernel"], finding),
        Verdict("non-finite", Status.DISMISSED, "finite", title="NaN or Inf")])
    payload = json.loads(json.dumps(report.to_json()))
    assert payload["verdicts"][0]["numbers"] == {"rms": None, "gain": "inf"}
    again = RunReport.from_json(payload)
    assert again.verdicts[0].status is Status.CONFIRMED and again.verdicts[0].finding.line == 12
    assert again.verdicts[1].check == "non-finite" and again.confirmed
