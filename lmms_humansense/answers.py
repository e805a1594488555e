"""Reading a model's free-text answer as a letter, a set of letters or a whole number, never guessing.

Only what the text declares counts; anything else is an :class:`Outcome` other than ``ok`` and scores 0.
Letters come from the first step that finds any: the whole answer is letters; the last declaration ("the
answer is C", not negated); labels leading the lines; an option's text; standalone valid letters.
"""

from __future__ import annotations

import bisect
import itertools
import re
import string
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from lmms_humansense.catalog import AnswerFormat

Outcome = Literal["ok", "empty", "unparsed", "ambiguous", "invalid"]


@dataclass(frozen=True)
class Parsed:
    """What was read: ``value`` (a letter, sorted letters, a number as text), empty unless ``ok``."""

    outcome: Outcome
    value: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


_THINK_OPEN, _THINK_CLOSE, _ANSWER_OPEN, _ANSWER_CLOSE, _ANY_TAG = (
    re.compile(tag, re.IGNORECASE) for tag in ("<think>", "</think>", "<answer>", "</answer>", "</?(?:think|answer)>")
)
_MARKUP = str.maketrans({c: " " for c in '*_`#$"“”'})  # emphasis and quotes; \boxed{B} marks the answer
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def focus(response: str) -> str:
    """The part of a response that carries the answer: not the ``<think>`` reasoning, the last ``<answer>`` if any."""

    def blocks(text: str, opening: re.Pattern[str], closing: re.Pattern[str]) -> Iterator[tuple[int, int, int, int]]:
        pos = 0  # (start, inner start, inner end, end) of each closed block, as a lazy <tag>.*?</tag> finds them
        while (start := opening.search(text, pos)) and (end := closing.search(text, start.end())):
            yield start.start(), start.end(), end.start(), end.end()
            pos = end.end()

    text, kept, pos = response or "", [], 0
    for start, _, _, end in blocks(text, _THINK_OPEN, _THINK_CLOSE):
        kept += [text[pos:start], " "]
        pos = end
    text = "".join(kept) + text[pos:]
    if answers := list(blocks(text, _ANSWER_OPEN, _ANSWER_CLOSE)):
        return text[answers[-1][1] : answers[-1][2]].strip()
    text = _ANSWER_OPEN.split(_THINK_CLOSE.split(_THINK_OPEN.split(text, maxsplit=1)[0])[-1])[-1]
    return _ANY_TAG.sub(" ", text).strip()


def _texts(response: str) -> tuple[str, str]:
    """The focused answer without markup, full-width forms as ASCII; and it *folded*: lower case, position for position."""
    text = _BOXED.sub(r" \1 ", unicodedata.normalize("NFKC", focus(response))).translate(_MARKUP).strip()
    return text, text.replace("İ", "i").replace("ı", "i").replace("ſ", "s").lower()


# "A. happy", "A) happy", "A: happy", "(A) happy"; a bare "A happy" is not a label.
_OPTION_LABEL = re.compile(r"\A\s*(?:[(\[（](?P<boxed>[A-Za-z])[)\]）]|(?P<bare>[A-Za-z])\s*[.):：])\s*")
_KEPT = re.compile(r"[^\s.,;:!?，。：*_`#$\"“”]")  # a character _normalise keeps: its output has as many
# One letter: "(B)", a bare "B" (not in a word, "A.M." or "N/A"), or a run "AC" of A-H (not "NOT", "OK").
_ITEM = re.compile(
    r"(?i)\s*(?:both\s+)?(?:(?:options?|choices?|letters?)\s*)?(?:[(\[（](?P<boxed>[A-Za-z])[)\]）]|(?P<run>(?-i:[A-H]{2,8}))(?![A-Za-z0-9])|(?P<bare>[A-Za-z])(?![A-Za-z0-9/\-]|\.[A-Za-z]))"
)
_SEPARATOR = re.compile(
    r"(?i)\s*(?P<sep>[,;]\s*(?:and|or)\b|,|;|&|\+|、|\band\b|\bor\b)?\s*(?P<hedge>(?:possibly|maybe|perhaps|probably)\b\s*(?:also\s+)?)?"
)
_NEXT_WORD = re.compile(r"\s+([a-z][a-z'’]+)")
# Words after a letter that leave it a letter, not the article: "the answer is A because ...".
_CONNECTORS = frozenset({"and", "or", "as", "because", "since", "is", "was", "seems", "which", "given", "due"})
_MAX_LETTERS = 26  # reading stops after this many letters or labelled lines
_LETTERS_END = re.compile(r"[\s.,;:!)\]）]*")  # what may follow letters in a letters-only answer


class _Group(NamedTuple):  # letters read at one place: hedged ("B or C"), any bracketed, where the reading ended
    letters: list[str]
    hedged: bool
    boxed: bool
    end: int


def option_letters(options: Sequence[str]) -> str:
    """The item's letters, from the options' labels ("A. ..." -> "A"), else their positions."""
    labels = [_OPTION_LABEL.match(opt) for opt in options]
    return "".join((m["boxed"] or m["bare"]).upper() if m else string.ascii_uppercase[i] for i, m in enumerate(labels))


def option_text(option: str) -> str:
    """An option's text without its label, normalised for comparison."""
    return _normalise(_OPTION_LABEL.sub("", option, count=1))


def _normalise(text: str) -> str:
    return re.sub(r"[\s.,;:!?，。：]+", " ", text.translate(_MARKUP)).strip().lower()


def _echo_patterns(options: Sequence[str], valid: str) -> dict[str, re.Pattern[str]]:
    """Per letter, its option text echoed after it: "(A) walking and (C) running" reads as A and C."""
    patterns = {}
    for letter, opt in zip(valid, options, strict=True):
        if words := _OPTION_LABEL.sub("", opt, count=1).strip().rstrip(".。!").split():
            body = r"\s+".join(map(re.escape, words))
            patterns[letter] = re.compile(rf"(?i)\s*(?:[.:)\-–—]\s*)?\(?{body}\)?\.?(?![A-Za-z0-9])")
    return patterns


def _read_group(text: str, pos: int, echoes: dict[str, re.Pattern[str]]) -> _Group:
    """Letters starting at ``pos``: "B", "(A)(C)", "A, C and D", "option B", "(A) walking and (C) running"."""
    letters, hedged, boxed, or_pending, end = [], False, False, False, pos
    while len(letters) < _MAX_LETTERS and (item := _ITEM.match(text, pos)):
        kind = item.lastgroup
        found = item[kind]
        # "A woman", "I think", "b angry": the article, a pronoun or a word, unless a connector follows
        word = kind == "bare" and (found.islower() or found in "AI") and _NEXT_WORD.match(text, item.end())
        if (word and word[1] not in _CONNECTORS) or (kind == "run" and len(set(found)) != len(found)):
            break
        hedged, boxed = hedged or (or_pending and bool(letters)), boxed or kind == "boxed"
        found, end = found.upper(), item.end()
        letters.extend(found)
        if (echo := echoes.get(found)) and (m := echo.match(text, end)):
            end = m.end()
        sep = _SEPARATOR.match(text, end)
        # "B or C", "C, or possibly D", "A and maybe C": a hedge between letters, not an answer
        or_pending = (sep["sep"] or "").lower().endswith("or") or bool(sep["hedge"])
        pos = sep.end()
    return _Group(letters, hedged, boxed, end)


_VERB = r"(?:is|are|was|would\s+be|will\s+be|should\s+be|must\s+be)"
# The words that open a declaration (folded); the letters follow.  "option C" alone is only a mention.
_LEAD_IN = re.compile(
    rf"(?:\b(?:final\s+)?answers?\b(?:\s+{_VERB})?|\bwhich\s+(?:is|would\s+be|makes\s+it)\s+(?:(?:option|choice)\s+)?|\b(?:that|this)\s+leaves\s+(?:(?:us\s+with|only|just)\s+)?(?:(?:option|choice)\s+)?|答案(?:是|为)?"
    rf"|\b(?:option|choice|letter|selection|pick)\s*(?:{_VERB}\b|[:：])|\b(?:correct|right|best|likely|appropriate|accurate|plausible|suitable|selected|chosen)\b(?:\s+[a-z]+)?\s*(?:(?:are|is|would\s+be)\b|[:：])"
    r"|\b(?:choose|chose|choosing|select|selecting|pick|picked|picking|opt\s+for|go(?:ing)?\s+(?:with|for)|went\s+with)\b)(?:\s+(?:probably|likely|most\s+likely|clearly|definitely))?\s*[:：=\-–—]?\s*"
)
# The lead-ins' first words (a superset; folded): a pattern is tried only where one of its words is.
_LEAD_WORD = re.compile(
    "final|answer|which|that|this|答案|opt|choice|letter|select|pick|correct|right|best|likely|appropriate|"
    "accurate|plausible|suitable|chos|choos|go|went"
)
_ONE = r"(?:[(\[（][A-Za-z][)\]）]|[A-Za-z](?![A-Za-z0-9]))"
# "C is the correct answer", "A and C are correct": the letters, then (folded, from a run of spaces' start) the tail.
_POST_GROUP = re.compile(
    rf"(?<![a-z0-9/\-])(?:(?:options?|choices?)\s*)?(?P<group>{_ONE}(?:\s*(?:,|and|&|or)\s*{_ONE})*)"
)
_POST_TAIL = re.compile(
    r"(?<!\s)\s+(?:is|are|would\s+be|seems?|looks?|appears?)(?:\s+to\s+be)?\s+(?:the\s+)?(?:(?:most|more)\s+)?(?:correct|right|best|answers?|true|accurate|likely|appropriate|plausible)\b"
)
# A conclusion (folded): "Therefore, C." -- only when nothing but punctuation follows the letters.
_CONCLUSION = re.compile(
    r"\b(?:therefore|thus|hence|so)\b\s*[,:]?\s*(?:[^.;!?\n]{0,60}?\b(?:is|are|must\s+be|would\s+be|has\s+to\s+be)\s+(?:(?:option|choice)\s+)?)?"
)
_SO = re.compile("therefore|thus|hence|so")  # _CONCLUSION's first words; folded
_CONCLUSION_END = re.compile(r"\s*(?:[.!;,\n]|$)")
_NEGATED = re.compile(r"(?:\bnot|n[’']t|\bnever)\s+(?:\w+\s+)?$", re.IGNORECASE)
# "Wait, no", "actually": what follows replaces what came before (folded).
_REVISION = re.compile(
    r"\b(?:wait|actually|correction|on\s+second\s+thought|looking\s+again|scratch\s+that|i\s+mean)\b"
)
_SENTENCE_END = re.compile(r"[.!?\n]\s*")
_BULLET = re.compile(r"\A\s*(?:[-•>]|\d+[.)])\s+")
_LABEL_END = re.compile(r"\s*(?:$|[.):\]）：,\-–—])")
_PART_SEPARATOR = re.compile(r"\n|,|;|、|and(?<!\wand)\b")  # each alternative opens with a literal: a fast scan


def _last_declaration(text: str, folded: str, echoes: dict[str, re.Pattern[str]]) -> _Group | None:
    """The letters of the last explicit declaration; each kind is tried from the end backwards."""

    def matches(pattern: re.Pattern[str], words: re.Pattern[str]) -> Iterator[re.Match[str]]:
        end = 0  # pattern.finditer(folded), tried only where one of its first words is
        for word in words.finditer(folded):
            if word.start() >= end and (m := pattern.match(folded, word.start())):
                yield m
                end = m.end()

    def read(m: re.Match[str], kind: str) -> _Group | None:
        if kind == "post" and not _POST_TAIL.match(folded, m.end()):
            return None
        group = _read_group(text, m.start("group") if kind == "post" else m.end(), echoes)
        if not group.letters:
            return None
        if kind == "conclusion":
            return group if _CONCLUSION_END.match(text, group.end) else None
        return None if _NEGATED.search(text[max(0, m.start() - 25) : m.start()]) else group

    posts = _POST_GROUP.finditer(folded) if _POST_TAIL.search(folded) else ()
    last: tuple[int, _Group] | None = None
    lead_ins, conclusions = matches(_LEAD_IN, _LEAD_WORD), matches(_CONCLUSION, _SO)
    for kind, found in (("lead", lead_ins), ("post", posts), ("conclusion", conclusions)):
        for m in reversed(list(found)):
            if last and m.start() <= last[0]:
                break
            if group := read(m, kind):
                last = (m.start(), group)
                break
    return last[1] if last else None


def _final_letters(text: str, echoes: dict[str, re.Pattern[str]]) -> _Group | None:
    """A closing sentence of letters only after prose: "B would be rude. A.", "C? No. A."."""
    cut = max(text.rstrip(" \t.!?\n").rfind(c) for c in ".!?\n")  # where the last sentence starts
    if cut < 0:
        return None
    last = _SENTENCE_END.match(text, cut).end()
    group = _read_group(text, last, echoes)
    letters_only = group.letters and _LETTERS_END.fullmatch(text, group.end)
    return group if letters_only and re.search(r"[A-Za-z]{2,}", text[:last]) else None  # after prose


def _leading(text: str, echoes: dict[str, re.Pattern[str]], first: _Group) -> list[str]:
    """Labels leading the first lines ("A. walking\\nC. running"), up to the first line led by none."""
    letters, lines = [], text.splitlines()
    for line in filter(str.strip, lines):
        if len(letters) >= _MAX_LETTERS:
            break
        line = _BULLET.sub("", line, count=1)
        group = first if len(lines) == 1 and line == text else _read_group(line, 0, echoes)
        if not group.letters or not (group.boxed or _LABEL_END.match(line, group.end)):
            break
        letters += group.letters
    return letters


def _by_option_text(text: str, options: Sequence[str], valid: str) -> list[str]:
    """Letters whose option text is the whole answer ("angry"), or each of its comma/line parts."""
    texts = [option_text(o) for o in options]
    longest = max(map(len, texts), default=0)

    def letter(part: str) -> str | None:
        if next(itertools.islice(_KEPT.finditer(part), longest, None), None):
            return None  # longer than any option's text: not normalised (a long answer costs nothing)
        norm = _normalise(part)
        return valid[texts.index(norm)] if norm and texts.count(norm) == 1 else None

    if whole := letter(text):
        return [whole]
    letters, pos = [], 0
    for cut in itertools.chain(_PART_SEPARATOR.finditer(text), [None]):
        part = text[pos : cut.start() if cut else None]
        if part.strip():
            if not (found := letter(part)):
                return []  # the first part that is none stops the reading: the rest is not cut up
            letters.append(found)
        pos = cut.end() if cut else pos
    return letters if len(letters) >= 2 else []


# A valid letter standing alone; the article or pronoun ("A man", as _read_group) is passed over by the pattern.
_ARTICLE = rf"[AI]\s+(?!(?:{'|'.join(sorted(_CONNECTORS))})(?![a-z'’]))[a-z][a-z'’]+"
_TOKEN = re.compile(
    rf"(?<![A-Za-z0-9])[(\[（](?P<boxed>[A-Za-z])[)\]）]|(?<![A-Za-z0-9/\-])(?!{_ARTICLE})(?P<bare>[A-Z])(?![A-Za-z0-9/\-]|\.[A-Za-z])"
)
# Excluded, not chosen: after "not a red dress (D)", "rules out A", "except B"; before "is not correct", "would be rude".
_EXCLUDED_BEFORE = re.compile(
    r"(?i)(?:\bnot|n[’']t|\bnever|\brules?\s+out|\bruling\s+out|\beliminat\w*|\bexclud\w*|\bexcept|\bother\s+than)\s+(?:(?!(?:but|rather|instead|so|is|are)\b)[\w’'-]+\s+){0,4}$"
)
_EXCLUDED_AFTER = re.compile(
    r"(?i)\s*(?:[)\]）]\s*)?(?:[a-z]+\s+){0,3}?(?:is|are|was|seems?|looks?|sounds?|would\s+be|can\s+be|could\s+be|must\s+be)\s+(?:(?:also|clearly|definitely|probably|certainly|too|an?)\s+)?"
    r"(?:not\b|incorrect|wrong|false|unlikely|implausible|rude|inappropriate|impossible|out\b|ruled\s+out|eliminated|excluded|inconsistent|irrelevant)"
)
# Where _NEGATED or _EXCLUDED_BEFORE could start, and an _EXCLUDED_AFTER predicate could be (supersets; folded).
_NEGATION_WORD = re.compile(r"not|n[’']t|never|rul(?:e|ing)|elimin|exclu|except|other")
_PREDICATE_WORD = re.compile(
    r"not|incorrect|wrong|false|unlikely|implausible|rude|inappropriate|impossible|out|eliminated|excluded|inconsistent|irrelevant"
)
_EXCLUSION_REACH = 45  # how far before a letter its exclusion may start (and after it, its predicate)
_ALL = r"(?:all|every(?:thing|\s+(?:one|option|choice))?)(?:\s+(?:of\s+)?(?:them|the\s+(?:options|choices|above)|options|choices))?"
# Possessive spaces (``\s*+``) where two runs meet: else a long run is split every way (cubic).
_ALL_OF_THEM = re.compile(rf"(?i)\s*{_ALL}\s*+(?:are\s+(?:correct|right|true))?\s*+[.!]?\s*")
_ALL_EXCEPT = re.compile(
    rf"(?i)\s*{_ALL}\s*+(?:are\s+(?:correct|right|true)\s*+)?,?\s*+(?:except(?:\s+for)?|but(?!\s+not)|other\s+than|apart\s+from|besides)\s+"
)
_SLASHED = re.compile(r"\s*[A-Ha-h](?:\s*/\s*[A-Ha-h])+\s*+[.!]?\s*")
_RUN = r"(?:\s*+|(?>\s*(?=\s(?!\s))))"  # of a run of spaces only two splits matter: all, or all but the last
_VERDICTS = "yes|no|true|false|correct|incorrect|present|absent|right|wrong"
_VERDICT = re.compile(
    rf"(?i)(?<![A-Za-z0-9])[(\[]?(?P<letter>[A-H])[)\]]?(?:\s*+[.:)\-–]{_RUN}|{_RUN})[^\n;/|]{{0,40}}?[\s:=\-–(](?P<verdict>{_VERDICTS})\b"
)
_VERDICT_WORD = re.compile(rf"(?i)\b(?:{_VERDICTS})\b")
_POSITIVE = frozenset({"yes", "true", "correct", "present", "right"})


def _between(positions: Sequence[int], low: int, high: int) -> Sequence[int]:
    """The sorted ``positions`` in [low, high): the few places near a match worth trying a pattern from."""
    return positions[bisect.bisect_left(positions, low) : bisect.bisect_left(positions, high)]


def _tokens(text: str, folded: str, valid: str) -> list[str]:
    """Valid letters standing alone, each once, in order, but no negated or excluded one ("not C", "C is wrong")."""
    found, wanted = [], set(valid)
    negations = [m.start() for m in _NEGATION_WORD.finditer(folded)]
    predicates = [m.start() for m in _PREDICATE_WORD.finditer(folded)]
    for m in _TOKEN.finditer(text):
        letter = m["bare"] or m["boxed"].upper()
        start, end = m.span()
        if letter not in wanted or any(
            _EXCLUDED_BEFORE.match(text, g, start) for g in _between(negations, start - _EXCLUSION_REACH, start)
        ):
            continue
        if _between(predicates, end, end + _EXCLUSION_REACH) and _EXCLUDED_AFTER.match(text, end):
            continue
        found.append(letter)
        wanted.discard(letter)
        if not wanted:
            break
    return found


def _whole_answer_shapes(text: str, valid: str) -> tuple[Outcome, list[str]] | None:
    """Letters named by what they leave out or per option ("All except A", "A/B", "A: Yes / B: No"), else ``None``."""
    if _ALL_OF_THEM.fullmatch(text):
        return "ok", list(valid)
    if m := _ALL_EXCEPT.match(text):
        group = _read_group(text, m.end(), {})
        if group.letters and re.fullmatch(r"[\s.,;:!]*", text[group.end :]):
            if any(c not in valid for c in group.letters):
                return "invalid", []
            rest = [c for c in valid if c not in group.letters]
            return ("ok", rest) if rest else ("unparsed", [])
    if _SLASHED.fullmatch(text):
        letters = [c.upper() for c in text if c.isalpha()]
        return ("ok", letters) if all(c in valid for c in letters) else ("invalid", [])
    verdicts = list(_VERDICT.finditer(text)) if len(_VERDICT_WORD.findall(text, 0, 4096)) >= 2 else []
    if len(verdicts) >= 2 and len({v["letter"] for v in verdicts}) == len(verdicts):
        chosen = [v["letter"] for v in verdicts if v["verdict"].lower() in _POSITIVE]
        if any(v["letter"] not in valid for v in verdicts):
            return "invalid", []
        return ("ok", chosen) if chosen else ("unparsed", [])
    return None


def _read_letters(response: str, options: Sequence[str]) -> tuple[Outcome, list[str]]:
    """The letters an answer gives, by the steps in the module docstring, with an outcome."""
    text, folded = _texts(response)
    if not text:
        return "empty", []
    valid = option_letters(options)
    if (special := _whole_answer_shapes(text, valid)) is not None:
        return special
    echoes = _echo_patterns(options, valid)
    first = _read_group(text, 0, echoes)
    letters_only = first.letters and _LETTERS_END.fullmatch(text, first.end)
    group = first if letters_only else _last_declaration(text, folded, echoes) or _final_letters(text, echoes)
    if group:
        if m := _REVISION.search(folded, group.end):  # a declaration taken back: "B. Wait, no, C."
            if after := sorted(_tokens(text[m.end() :], folded[m.end() :], valid)):
                return ("ok", after) if len(after) == 1 else ("ambiguous", [])
        letters, hedged = group.letters, group.hedged
    else:
        letters, hedged = _leading(text, echoes, first) or _by_option_text(text, options, valid), False
    if letters:
        if any(c not in valid for c in letters):
            return "invalid", []
        return ("ambiguous", []) if hedged else ("ok", letters)
    tokens = _tokens(text, folded, valid)
    return ("ok", tokens) if tokens else ("unparsed", [])


def parse_single(response: str, options: Sequence[str]) -> Parsed:
    """One letter among the item's options; two different letters are ambiguous."""
    outcome, letters = _read_letters(response, options)
    if outcome != "ok":
        return Parsed(outcome)
    return Parsed("ok", letters[0]) if len(set(letters)) == 1 else Parsed("ambiguous")


def parse_multi(response: str, options: Sequence[str]) -> Parsed:
    """A set of letters among the item's options, returned sorted ("CA" -> "AC")."""
    outcome, letters = _read_letters(response, options)
    return Parsed("ok", "".join(sorted(set(letters)))) if outcome == "ok" else Parsed(outcome)


_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_NOBODY = r"no\s+(?:one|people|persons?|humans?|individuals?|men|women|children|kids|adults)\b"
_WORD = rf"{_NOBODY}|nobody|none|{'|'.join(_NUMBER_WORDS)}"
# Not part of a word, a decimal list, a time ("0:05") or a thousands group ("1,000"); folded.
_NUMBER = re.compile(rf"(?<![a-z0-9_.,])(?<!\d:)(?:(?P<digits>\d+(?:\.\d+)?)|(?P<word>{_WORD}))(?![a-z0-9_]|[.,:]\d)")
_NUMBER_LEAD_IN = re.compile(
    r"(?i)(?:\b(?:answer|total|count|number|sum|result)s?\b[^.\n\d]{0,40}?(?:\s*[:：=]|\b(?:is|are|was|were|be|of)\b)|答案(?:是|为)?"
    r"|\b(?:therefore|thus|hence|so)\b,?(?:\s+there\s+(?:are|is|were))?(?:\s+a\s+total\s+of)?)\s*[:：=]?\s*(?:about\s+|approximately\s+)?$"
)
_NUMBER_KEYWORD = re.compile(r"answer|total|count|number|sum|result|答案|therefore|thus|hence|so")  # lead-ins' words
_NUMBER_HEDGE = re.compile(rf"(?i)\s*(?:or|to|-|–|~)\s*(?:\d|(?:{_WORD})\b)")  # "3 or 4", "2-3": not one number
_NUMBER_TRAILER = re.compile(r"(?i)\s+(?:[a-z]+\s+)?(?:in\s+total|in\s+all|altogether|total)\b")
_TRAILER_WORD = re.compile(r"total|all|altogether")  # the trailers' words; folded
_LIST_ITEM = re.compile(r"(?i)\b(?:and|plus)\s+$")  # "2 women and 1 man in total": no declared "1"
# "the one on the left", "one of them": the pronoun, not a count; never without one of _PRONOUN_WORD (folded).
_PRONOUN_WORDS = ("the", "this", "that", "which", "each", "every", "any", "another")
_PRONOUN_ONE = re.compile(rf"(?i)\b(?:{'|'.join(_PRONOUN_WORDS)})\s+$")
_PRONOUN_WORD = re.compile(r"the|this|that|which|each|every|any|of")
_OF = re.compile(r"\s+of\b")
# "at least 3", "more than 9": a bound, not a count; "-1", "minus 2": no count; "not 6", "rather than 5": ruled out.
_BOUND = re.compile(
    r"(?i)(?:\bat\s+(?:least|most)|\b(?:more|fewer|less)\s+than|\bover|\bunder|\bup\s+to|\bno\s+more\s+than|>|<|≥|≤)\s*$"
)
_MINUS = re.compile(r"(?i)(?:(?<![A-Za-z0-9])[-−–]|\bminus\s+)$")
_NOT_NUMBER = re.compile(r"(?i)(?:\bnot|\brather\s+than|\binstead\s+of|\bnor)\s+(?:exactly\s+)?$")
_PART_OF = re.compile(r"(?i)\s+of\s+(?:them|whom|those|these)\b")  # "2 of them children": part of a count given
# "There are 4 people: two men and two women", "4 in total: ...": a count followed by its breakdown.
_HEADLINE = re.compile(
    r"(?i)\s+(?:(?:people|persons|individuals|humans|figures)\b(?:\s+in\s+total|\s+in\s+all|\s+altogether)?|in\s+total|in\s+all|altogether)\s*(?:[:：(—–]|,\s*(?:namely|including)\b)"
)
_HEADLINE_WORD = re.compile(r"people|persons|individuals|humans|figures|in\s+total|in\s+all|altogether")  # folded
# Where a "not", a bound or a minus could start (a superset; folded): numbers look back from these only.
_GUARD = re.compile(r"not|rather|instead|nor|at|more|fewer|less|over|under|up|no|<|>|≥|≤|minus|-|−|–")
_GUARD_KIND = dict.fromkeys(("not", "rather", "instead", "nor"), "not") | dict.fromkeys(
    ("minus", "-", "−", "–"), "minus"
)


def parse_number(response: str) -> Parsed:
    """A whole number: the last declared one ("the total is 5"), else the one value named (words only without digits)."""
    text, folded = _texts(response)
    if not text:
        return Parsed("empty")

    def pronoun(m: re.Match[str]) -> bool:  # "one" the pronoun, from the words next to it only
        gap = m.start()
        while gap and text[gap - 1].isspace():
            gap -= 1
        start = max(0, gap - max(map(len, _PRONOUN_WORDS)))
        return bool(_PRONOUN_ONE.search(text, start, m.start()) or _OF.match(text, m.end()))

    def before(m: re.Match[str], pattern: re.Pattern[str], kind: str) -> bool:  # from a guard 30 characters back
        return any(pattern.match(text, g, m.start()) for g in _between(guards[kind], m.start() - 30, m.start()))

    def declared_number(m: re.Match[str]) -> bool:  # "the total is 5", "so there are 5", "5 in total"
        start = max(0, m.start() - 80)
        if _between(keywords, start, m.start()) and _NUMBER_LEAD_IN.search(text[start : m.start()]):
            return True
        return bool(_NUMBER_TRAILER.match(text, m.end())) and not _LIST_ITEM.search(text[start : m.start()])

    numbers = list(_NUMBER.finditer(folded))
    if _PRONOUN_WORD.search(folded):
        numbers = [m for m in numbers if not (m[0] == "one" and pronoun(m))]
    guards: dict[str, list[int]] = {"not": [], "bound": [], "minus": []}
    for g in _GUARD.finditer(folded):
        guards[_GUARD_KIND.get(g[0], "bound")].append(g.start())
    if guards["minus"] and any(m["digits"] and before(m, _MINUS, "minus") for m in numbers):
        return Parsed("invalid")
    if guards["not"]:
        numbers = [m for m in numbers if not before(m, _NOT_NUMBER, "not")]
    if " of " in text:
        numbers = [m for m in numbers if not _PART_OF.match(text, m.end())]
    keywords = [k.start() for k in _NUMBER_KEYWORD.finditer(folded)]
    declarable = keywords or _TRAILER_WORD.search(folded)
    declared = next((m for m in reversed(numbers) if declared_number(m)), None) if declarable else None
    if _HEADLINE_WORD.search(folded):
        declared = next((m for m in numbers if _HEADLINE.match(text, m.end())), declared)
    if guards["bound"] and any(before(m, _BOUND, "bound") for m in ([declared] if declared else numbers)):
        return Parsed("ambiguous")
    if declared and _NUMBER_HEDGE.match(text, declared.end()):
        return Parsed("ambiguous")
    values = set()
    for found in {m[0] for m in ([declared] if declared else [m for m in numbers if m["digits"]] or numbers)}:
        if not found[0].isdigit():  # a folded word: "no one", "nobody", "none" are 0
            values.add(0 if found.startswith("no") else _NUMBER_WORDS.index(found))
        else:  # a fraction is no count (2.5; 3.0 is 3)
            values.add(int(float(found)) if float(found).is_integer() else None)
    if len(values) != 1:
        return Parsed("ambiguous" if values else "unparsed")
    return Parsed("invalid") if None in values else Parsed("ok", str(values.pop()))


def parse(response: str, answer_format: AnswerFormat, options: Sequence[str] = ()) -> Parsed:
    """Dispatch on the item's answer format."""
    if answer_format in ("single", "multi"):
        return (parse_single if answer_format == "single" else parse_multi)(response, options)
    if answer_format == "numeric":
        return parse_number(response)
    raise ValueError(f"unknown answer format {answer_format!r}")
