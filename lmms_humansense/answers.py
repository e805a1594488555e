"""Reading a model's free-text answer as a letter, a set of letters, a whole number or Yes/No.

Peer tasks lose points to parsers that read "Based on the video..." as B, "a man is angry" as A
or guess a default letter.  This parser only accepts what the text actually declares: the item's
own valid letters, as standalone tokens; the last explicit declaration ("so the answer is C")
wins; reasoning inside ``<think>`` is ignored and an ``<answer>`` tag is preferred.  Anything it
cannot read is reported as such (an :class:`Outcome` other than ``ok``) and scores 0; it is never
guessed.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from lmms_humansense.catalog import AnswerFormat

Outcome = Literal["ok", "empty", "unparsed", "ambiguous", "invalid"]

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_OPEN_THINK = re.compile(r"<think>.*", re.DOTALL | re.IGNORECASE)
# "answer is C", "Answer: (B)", "correct option is b.", "I choose D", "final answer - A and C".
_DECLARATION = re.compile(
    r"(?:answers?|options?|choices?|choose|chose|select(?:ed)?|pick(?:ed)?|correct(?:\s+ones?)?)"
    r"(?:\s+(?:is|are|would\s+be|will\s+be|should\s+be|must\s+be|=|letters?|:))*\s*[:=\-]?\s*",
    re.IGNORECASE,
)
_NUMBER_WORDS = {
    "zero": 0, "none": 0, "no one": 0, "nobody": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_MARKUP = str.maketrans({c: " " for c in "*_`#\"'“”‘’"})


@dataclass(frozen=True)
class Parsed:
    """What was read from a response.  ``value`` is a letter, a sorted letter string, a number
    as text, or ``yes``/``no``; it is empty unless ``outcome`` is ``ok``."""

    outcome: Outcome
    value: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def focus(response: str) -> str:
    """The part of a response that carries the answer: the last ``<answer>`` tag if any, else the
    text with ``<think>`` blocks removed (an unclosed ``<think>`` hides everything after it)."""
    tags = _ANSWER_TAG.findall(response)
    if tags:
        return tags[-1].strip()
    text = _THINK_BLOCK.sub(" ", response)
    text = _OPEN_THINK.sub(" ", text)
    return text.strip()


def option_letters(options: Sequence[str]) -> str:
    """The valid letters of an item, read from the option strings ("A. ..." -> "A")."""
    letters = []
    for i, opt in enumerate(options):
        m = re.match(r"\s*\(?([A-Za-z])[.):\s]", opt + " ")
        letters.append(m.group(1).upper() if m else string.ascii_uppercase[i])
    return "".join(letters)


def option_text(option: str) -> str:
    """The text of an option without its "A." label, normalised for comparison."""
    body = re.sub(r"^\s*\(?[A-Za-z][.):]\s*", "", option)
    return _normalise(body)


def _normalise(text: str) -> str:
    return re.sub(r"[\s.,;:!?，。]+", " ", text.translate(_MARKUP)).strip().lower()


def _tokens(text: str, valid: str) -> list[str]:
    """Standalone upper-case letter tokens from ``valid`` in reading order.

    An "A" followed by a lower-case word is the article ("A woman is speaking"), not option A.
    """
    found = []
    for m in re.finditer(r"(?<![A-Za-z0-9])([A-Z])(?![A-Za-z0-9])", text):
        letter = m.group(1)
        if letter not in valid:
            continue
        rest = text[m.end() :]
        if letter == "A" and re.match(r"\s+[a-z]", rest):
            continue
        found.append(letter)
    return found


def _letters_only(text: str, valid: str) -> str | None:
    """The letters of a response that consists of letters and separators only ("AC", "a, c",
    "(B)", "b.", "A and C"), upper-cased; ``None`` when the response has anything else."""
    cleaned = text.translate(_MARKUP)
    cleaned = re.sub(r"\b(?:and|or|&)\b", " ", cleaned, flags=re.IGNORECASE)
    cleaned = re.sub(r"[\s.,;:/|()\[\]{}+\-]+", "", cleaned)
    if not cleaned or not cleaned.isalpha() or len(cleaned) > len(valid) + 1:
        return None
    upper = cleaned.upper()
    if len(set(upper)) != len(upper) and len(upper) > 1:
        return None
    return upper


def _declared(text: str, valid: str) -> list[str] | None:
    """Letters following the last explicit declaration, or ``None`` if there is none."""
    last: list[str] | None = None
    for m in _DECLARATION.finditer(text):
        tail = text[m.end() : m.end() + 40]
        head = re.match(
            r"\(?([A-Za-z])\)?(?![A-Za-z0-9])((?:\s*(?:,|and|&|\+)?\s*\(?[A-Za-z]\)?(?![A-Za-z0-9]))*)", tail
        )
        if not head:
            continue
        letters = re.findall(r"(?<![A-Za-z])([A-Za-z])(?![A-Za-z])", head.group(0).replace("and", " "))
        first = head.group(1)
        # A lower-case single letter followed by a word is an article/pronoun ("the answer is a man").
        if first.islower() and re.match(r"\s+[a-z]", tail[head.end() :]) and len(letters) == 1:
            continue
        if (
            first == "A"
            and re.match(r"\s+[a-z]{2,}", tail[head.end() :])
            and not re.match(r"\s+(?:and|or|because|since|as)\b", tail[head.end() :])
            and len(letters) == 1
        ):
            continue
        last = [c.upper() for c in letters]
    if last is None:
        return None
    return [c for c in last if c.upper() in valid] or ["?"]


def _by_option_text(text: str, options: Sequence[str], valid: str) -> str | None:
    norm = _normalise(text)
    if not norm:
        return None
    hits = [valid[i] for i, opt in enumerate(options) if option_text(opt) and option_text(opt) == norm]
    return hits[0] if len(hits) == 1 else None


def parse_single(response: str, options: Sequence[str]) -> Parsed:
    """One letter among the item's options."""
    valid = option_letters(options)
    text = focus(response or "")
    if not text:
        return Parsed("empty")
    whole = _letters_only(text, valid)
    if whole is not None and len(whole) == 1:
        return Parsed("ok", whole) if whole in valid else Parsed("invalid")
    lead = re.match(r"\s*\(?([A-Za-z])[.):\]]", text)
    if lead and lead.group(1).upper() in valid and not re.match(r"\s*[A-Za-z]\.[A-Za-z]", text):
        candidate = lead.group(1).upper()
        declared = _declared(text[lead.end() :], valid)
        if not declared:
            return Parsed("ok", candidate)
    declared = _declared(text, valid)
    if declared is not None:
        letters = sorted(set(declared))
        if letters == ["?"]:
            return Parsed("invalid")
        return Parsed("ok", letters[0]) if len(letters) == 1 else Parsed("ambiguous")
    tokens = _tokens(text, valid)
    if len(set(tokens)) == 1:
        return Parsed("ok", tokens[0])
    if len(set(tokens)) > 1:
        return Parsed("ambiguous")
    by_text = _by_option_text(text, options, valid)
    if by_text:
        return Parsed("ok", by_text)
    return Parsed("unparsed")


def parse_multi(response: str, options: Sequence[str]) -> Parsed:
    """A set of letters among the item's options, returned sorted ("CA" -> "AC")."""
    valid = option_letters(options)
    text = focus(response or "")
    if not text:
        return Parsed("empty")
    whole = _letters_only(text, valid)
    if whole is not None:
        if all(c in valid for c in whole):
            return Parsed("ok", "".join(sorted(set(whole))))
        return Parsed("invalid")
    declared = _declared(text, valid)
    if declared is not None:
        if "?" in declared:
            return Parsed("invalid")
        return Parsed("ok", "".join(sorted(set(declared))))
    lines = [ln for ln in text.splitlines() if ln.strip()]
    leads = [re.match(r"\s*[-*]?\s*\(?([A-Z])[.):]", ln) for ln in lines]
    if lines and all(leads):
        letters = {m.group(1) for m in leads if m}
        if letters <= set(valid):
            return Parsed("ok", "".join(sorted(letters)))
    tokens = _tokens(text, valid)
    if tokens:
        return Parsed("ok", "".join(sorted(set(tokens))))
    return Parsed("unparsed")


def parse_number(response: str) -> Parsed:
    """A whole number ("10" is ten, not one); number words up to ten are read too."""
    text = focus(response or "")
    if not text:
        return Parsed("empty")
    declared = list(re.finditer(r"(?:answer|count|total|number)\D{0,20}?(\d+)", text, re.IGNORECASE))
    if declared:
        return Parsed("ok", str(int(declared[-1].group(1))))
    numbers = {str(int(n)) for n in re.findall(r"(?<![\d.])\d+(?![\d.]*\d)", text)}
    if len(numbers) == 1:
        return Parsed("ok", numbers.pop())
    if len(numbers) > 1:
        return Parsed("ambiguous")
    lowered = text.lower()
    words = {v for k, v in _NUMBER_WORDS.items() if re.search(rf"\b{k}\b", lowered)}
    if len(words) == 1:
        return Parsed("ok", str(words.pop()))
    return Parsed("ambiguous") if words else Parsed("unparsed")


def parse_yesno(response: str) -> Parsed:
    text = focus(response or "")
    if not text:
        return Parsed("empty")
    found = set(re.findall(r"\b(yes|no)\b", text.lower()))
    if len(found) == 1:
        return Parsed("ok", found.pop())
    return Parsed("ambiguous") if found else Parsed("unparsed")


def parse(response: str, answer_format: AnswerFormat, options: Sequence[str] = ()) -> Parsed:
    """Dispatch on the item's answer format."""
    if answer_format == "single":
        return parse_single(response, options)
    if answer_format == "multi":
        return parse_multi(response, options)
    if answer_format == "numeric":
        return parse_number(response)
    if answer_format == "yesno":
        return parse_yesno(response)
    raise ValueError(f"unknown answer format {answer_format!r}")
