"""Reading a model's free-text answer as a letter, a set of letters or a whole number, never guessing.

Only what the text declares counts: the item's own letters as standalone tokens, the last explicit
declaration winning; ``<think>`` is ignored, ``<answer>`` preferred; anything else is an
:class:`Outcome` other than ``ok`` and scores 0.  Letters are read by the first of these steps that
finds any: 1. the whole answer is letters ("B", "(b)", "A, C", "a and c"); 2. the last declaration
("the answer is C", "C is the correct answer", "Therefore, C."; not a negated one); 3. labels leading
the lines ("B. angry", "Option C: ..."); 4. an option's exact text; 5. standalone upper-case or
bracketed letters anywhere.  Steps 1-3 call a letter outside the options ``invalid``; step 5 sees
valid letters only.  "A" before a lower-case word is the article, "a man" is prose.
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


_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_ANSWER_OPEN = re.compile(r"<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile(r"</answer>", re.IGNORECASE)
_ANY_TAG = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)
# Emphasis and quoting carry no meaning here; LaTeX's \boxed{B} is a common way to mark the answer.
_MARKUP = str.maketrans({c: " " for c in '*_`#$"“”'})
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")


def _blocks(text: str, opening: re.Pattern[str], closing: re.Pattern[str]) -> Iterator[tuple[int, int, int, int]]:
    """(start, inner start, inner end, end) of each closed block, as a lazy ``<tag>.*?</tag>`` finds
    them, in one pass (the regex is quadratic on a long answer repeating an unclosed tag)."""
    pos = 0
    while (start := opening.search(text, pos)) and (end := closing.search(text, start.end())):
        yield start.start(), start.end(), end.start(), end.end()
        pos = end.end()


def focus(response: str) -> str:
    """The part of a response that carries the answer: closed ``<think>`` blocks dropped (a draft
    ``<answer>`` in them does not count), then the last ``<answer>``; without one, an unclosed
    ``<think>`` hides the rest, a stray ``</think>`` ends reasoning begun in the prompt and an
    unclosed ``<answer>`` (a truncated reply) still marks where the answer starts."""
    text = response or ""
    kept, pos = [], 0
    for start, _, _, end in _blocks(text, _THINK_OPEN, _THINK_CLOSE):
        kept += [text[pos:start], " "]
        pos = end
    text = "".join(kept) + text[pos:]
    if answers := list(_blocks(text, _ANSWER_OPEN, _ANSWER_CLOSE)):
        return text[answers[-1][1] : answers[-1][2]].strip()
    text = _THINK_OPEN.split(text, maxsplit=1)[0]
    text = _THINK_CLOSE.split(text)[-1]
    text = _ANSWER_OPEN.split(text)[-1]
    return _ANY_TAG.sub(" ", text).strip()


def _clean(response: str) -> str:
    """The focused answer without emphasis, quotes and ``\\boxed{}``, full-width forms (``Ｂ``) as ASCII."""
    text = unicodedata.normalize("NFKC", focus(response))
    return _BOXED.sub(r" \1 ", text).translate(_MARKUP).strip()


def _fold(text: str) -> str:
    """``text`` lower-cased position for position, for the *folded* patterns (as IGNORECASE, faster);
    "İ", "ı", "ſ" and the Kelvin sign fold to the ASCII letter IGNORECASE matches them with."""
    return text.replace("İ", "i").replace("ı", "i").replace("ſ", "s").lower()


# "A. happy", "A) happy", "A: happy", "(A) happy"; a bare "A happy" is not a label.
_OPTION_LABEL = re.compile(r"\s*(?:[(\[（](?P<boxed>[A-Za-z])[)\]）]|(?P<bare>[A-Za-z])\s*[.):：])\s*")


def option_letters(options: Sequence[str]) -> str:
    """The item's letters, from the options' labels ("A. ..." -> "A"), else their positions."""
    labels = [_OPTION_LABEL.match(opt) for opt in options]
    return "".join((m["boxed"] or m["bare"]).upper() if m else string.ascii_uppercase[i] for i, m in enumerate(labels))


def _option_body(option: str) -> str:
    """An option without its label, as written."""
    m = _OPTION_LABEL.match(option)
    return option[m.end() :] if m else option


def option_text(option: str) -> str:
    """An option's text without its label, normalised for comparison."""
    return _normalise(_option_body(option))


def _normalise(text: str) -> str:
    return re.sub(r"[\s.,;:!?，。：]+", " ", text.translate(_MARKUP)).strip().lower()


# A character that :func:`_normalise` keeps: a normalised text has at least as many characters.
_KEPT = re.compile(r"[^\s.,;:!?，。：*_`#$\"“”]")


def _echo_patterns(options: Sequence[str], valid: str) -> dict[str, re.Pattern[str]]:
    """Per letter, its option text echoed after it: "(A) walking and (C) running" reads as A and C."""
    patterns = {}
    for letter, opt in zip(valid, options, strict=True):
        words = _option_body(opt).strip().rstrip(".。!").split()
        if words:
            body = r"\s+".join(re.escape(w) for w in words)
            patterns[letter] = re.compile(rf"\s*(?:[.:)\-–—]\s*)?\(?{body}\)?\.?(?![A-Za-z0-9])", re.IGNORECASE)
    return patterns


# One letter: bracketed "(B)", bare "B" (not part of a word, "A.M." or "N/A"), or a run of capitals
# "AC".  Runs are limited to A-H so that shouted words ("NOT", "OK") are not read as letters.
_ITEM = re.compile(
    r"\s*(?:both\s+)?(?:(?:options?|choices?|letters?)\s*)?"
    r"(?:[(\[（](?P<boxed>[A-Za-z])[)\]）]"
    r"|(?P<run>(?-i:[A-H]{2,8}))(?![A-Za-z0-9])"
    r"|(?P<bare>[A-Za-z])(?![A-Za-z0-9/\-]|\.[A-Za-z]))",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"\s*(?P<sep>[,;]\s*(?:and|or)\b|,|;|&|\+|、|\band\b|\bor\b)?\s*"
    r"(?P<hedge>(?:possibly|maybe|perhaps|probably)\b\s*(?:also\s+)?)?",
    re.IGNORECASE,
)
_NEXT_WORD = re.compile(r"\s+([a-z][a-z'’]+)")
# Words that may follow a letter without making it an article: "the answer is A because ...".
_CONNECTORS = frozenset({"and", "or", "as", "because", "since", "is", "was", "seems", "which", "given", "due"})


class _Group(NamedTuple):
    """Letters read at one place: hedged ("B or C"), any bracketed, where the reading ended."""

    letters: list[str]
    hedged: bool
    boxed: bool
    end: int


def _is_word(letter: str, text: str, end: int) -> bool:
    """Whether a bare letter is a word here ("A woman", "I think", "b angry"): "A", "I" or lower
    case, followed by a lower-case word that is not a connector ("A because ...")."""
    if not (letter.islower() or letter in "AI"):
        return False
    return bool(m := _NEXT_WORD.match(text, end)) and m[1] not in _CONNECTORS


#: Reading stops after this many letters or labelled lines, so a runaway answer costs no more.
_MAX_LETTERS = 26


def _read_group(text: str, pos: int, echoes: dict[str, re.Pattern[str]]) -> _Group:
    """Letters starting at ``pos``: "B", "(A)(C)", "A, C and D", "option B", "(A) walking and (C) running"."""
    letters: list[str] = []
    hedged = boxed = or_pending = False
    end = pos
    while len(letters) < _MAX_LETTERS and (item := _ITEM.match(text, pos)):
        kind = item.lastgroup  # which alternative read the letter(s): "boxed", "run" or "bare"
        found = item[kind]
        if (kind == "bare" and _is_word(found, text, item.end())) or (kind == "run" and len(set(found)) != len(found)):
            break
        hedged = hedged or (or_pending and bool(letters))
        found = found.upper()
        letters.extend(found)
        boxed = boxed or kind == "boxed"
        end = item.end()
        if (echo := echoes.get(found)) and (m := echo.match(text, end)):
            end = m.end()
        sep = _SEPARATOR.match(text, end)
        # "B or C", "C, or possibly D", "A and maybe C": a hedge between letters, not an answer
        or_pending = (sep["sep"] or "").lower().endswith("or") or bool(sep["hedge"])
        pos = sep.end()
    return _Group(letters, hedged, boxed, end)


def _letters_only(text: str, group: _Group) -> _Group | None:
    """``group`` (read at the start) when the answer is letters and separators only, else ``None``."""
    return group if group.letters and re.fullmatch(r"[\s.,;:!)\]）]*", text[group.end :]) else None


_VERB = r"(?:is|are|was|would\s+be|will\s+be|should\s+be|must\s+be)"
# The words that open a declaration (folded); the letters follow.  "option C" alone is only a mention.
_LEAD_IN = re.compile(
    rf"""(?:
        \b(?:final\s+)?answers?\b(?:\s+{_VERB})?
      | \bwhich\s+(?:is|would\s+be|makes\s+it)\s+(?:(?:option|choice)\s+)?
      | \b(?:that|this)\s+leaves\s+(?:(?:us\s+with|only|just)\s+)?(?:(?:option|choice)\s+)?
      | 答案(?:是|为)?
      | \b(?:option|choice|letter|selection|pick)\s*(?:{_VERB}\b|[:：])
      | \b(?:correct|right|best|likely|appropriate|accurate|plausible|suitable|selected|chosen)\b
        (?:\s+[a-z]+)?\s*(?:(?:are|is|would\s+be)\b|[:：])
      | \b(?:choose|chose|choosing|select|selecting|pick|picked|picking|opt\s+for|go(?:ing)?\s+(?:with|for)|went\s+with)\b
    )
    (?:\s+(?:probably|likely|most\s+likely|clearly|definitely))?
    \s*[:：=\-–—]?\s*""",
    re.VERBOSE,
)
# The lead-ins' first words (a superset; folded): scanning for them is faster than trying everywhere.
_LEAD_WORD = re.compile(
    "final|answer|which|that|this|答案|opt|choice|letter|select|pick|correct|right|best|likely|appropriate|"
    "accurate|plausible|suitable|chos|choos|go|went"
)


def _matches(pattern: re.Pattern[str], words: re.Pattern[str], folded: str) -> Iterator[re.Match[str]]:
    """The matches ``pattern.finditer(folded)`` gives, tried only where one of its first ``words`` is."""
    end = 0
    for word in words.finditer(folded):
        if word.start() >= end and (m := pattern.match(folded, word.start())):
            yield m
            end = m.end()


_ONE = r"(?:[(\[（][A-Za-z][)\]）]|[A-Za-z](?![A-Za-z0-9]))"
# "C is the correct answer", "A and C are correct": two patterns, so a long run of letters with no
# declaration after it is not re-read from each of its letters.
_POST_GROUP = re.compile(
    rf"(?<![a-z0-9/\-])(?:(?:options?|choices?)\s*)?(?P<group>{_ONE}(?:\s*(?:,|and|&|or)\s*{_ONE})*)"
)
# Folded.  Tried only from the start of a run of spaces: from each of them, a long run is quadratic.
_POST_TAIL = re.compile(
    r"(?<!\s)\s+(?:is|are|would\s+be|seems?|looks?|appears?)(?:\s+to\s+be)?\s+(?:the\s+)?(?:(?:most|more)\s+)?"
    r"(?:correct|right|best|answers?|true|accurate|likely|appropriate|plausible)\b"
)
# A conclusion: "Therefore, C." -- only when nothing but punctuation follows the letters.
_CONCLUSION = re.compile(  # folded
    r"\b(?:therefore|thus|hence|so)\b\s*[,:]?\s*"
    r"(?:[^.;!?\n]{0,60}?\b(?:is|are|must\s+be|would\s+be|has\s+to\s+be)\s+(?:(?:option|choice)\s+)?)?"
)
_SO = re.compile("therefore|thus|hence|so")  # _CONCLUSION's first words; folded
_CONCLUSION_END = re.compile(r"\s*(?:[.!;,\n]|$)")
_NEGATED = re.compile(r"(?:\bnot|n[’']t|\bnever)\s+(?:\w+\s+)?$", re.IGNORECASE)
# A letter standing alone is excluded, not chosen, after "not a red dress (D)", "rules out A and C",
# "except B", and before "is incorrect", "is not correct", "would be rude", "can be ruled out".
_EXCLUDED_BEFORE = re.compile(
    r"(?:\bnot|n[’']t|\bnever|\brules?\s+out|\bruling\s+out|\beliminat\w*|\bexclud\w*|\bexcept|\bother\s+than)"
    r"\s+(?:(?!(?:but|rather|instead|so|is|are)\b)[\w’'-]+\s+){0,4}$",
    re.IGNORECASE,
)
_EXCLUDED_AFTER = re.compile(
    r"\s*(?:[)\]）]\s*)?(?:[a-z]+\s+){0,3}?(?:is|are|was|seems?|looks?|sounds?|would\s+be|can\s+be|could\s+be|must\s+be)\s+"
    r"(?:(?:also|clearly|definitely|probably|certainly|too|an?)\s+)?"
    r"(?:not\b|incorrect|wrong|false|unlikely|implausible|rude|inappropriate|impossible|out\b|ruled\s+out|"
    r"eliminated|excluded|inconsistent|irrelevant)",
    re.IGNORECASE,
)
# Every place _NEGATED or _EXCLUDED_BEFORE could start a match (a superset: no word boundaries asked; folded).
_NEGATION_WORD = re.compile(r"not|n[’']t|never|rul(?:e|ing)|elimin|exclu|except|other")
# Every place an _EXCLUDED_AFTER predicate could be (a superset; folded).
_PREDICATE_WORD = re.compile(
    r"not|incorrect|wrong|false|unlikely|implausible|rude|inappropriate|impossible|out|eliminated|excluded|"
    r"inconsistent|irrelevant"
)
#: How far before a letter its exclusion may start (and after it, its predicate).
_EXCLUSION_REACH = 45


def _last_declaration(text: str, folded: str, echoes: dict[str, re.Pattern[str]]) -> _Group | None:
    """The letters of the last explicit declaration, or ``None``; each kind is tried from the end
    backwards until one reads letters (thousands of declarations read one group)."""

    def negated(start: int) -> bool:
        return bool(_NEGATED.search(text[max(0, start - 25) : start]))

    def lead_in(m: re.Match[str]) -> _Group | None:
        group = _read_group(text, m.end(), echoes)
        return group if group.letters and not negated(m.start()) else None

    def post(m: re.Match[str]) -> _Group | None:
        group = _read_group(text, m.start("group"), echoes) if _POST_TAIL.match(folded, m.end()) else None
        return group if group and group.letters and not negated(m.start()) else None

    def conclusion(m: re.Match[str]) -> _Group | None:
        group = _read_group(text, m.end(), echoes)
        return group if group.letters and _CONCLUSION_END.match(text, group.end) else None

    posts = _POST_GROUP.finditer(folded) if _POST_TAIL.search(folded) else ()
    last: tuple[int, _Group] | None = None
    lead_ins, conclusions = _matches(_LEAD_IN, _LEAD_WORD, folded), _matches(_CONCLUSION, _SO, folded)
    for matches, read in ((lead_ins, lead_in), (posts, post), (conclusions, conclusion)):
        for m in reversed(list(matches)):
            if last and m.start() <= last[0]:
                break
            if group := read(m):
                last = (m.start(), group)
                break
    return last[1] if last else None


_BULLET = re.compile(r"\s*(?:[-•>]|\d+[.)])\s+")
_LABEL_END = re.compile(r"\s*(?:$|[.):\]）：,\-–—])")


def _leading(text: str, echoes: dict[str, re.Pattern[str]], first: _Group) -> list[str]:
    """Labels leading the first lines ("B. angry", "A. walking\\nC. running"), up to the first line
    not led by one, so an explanation's letters are not added; ``first``: the group at the start."""
    letters: list[str] = []
    lines = text.splitlines()
    for line in lines:
        if len(letters) >= _MAX_LETTERS:
            break
        if not line.strip():
            continue
        if bullet := _BULLET.match(line):
            line = line[bullet.end() :]
        group = first if len(lines) == 1 and line == text else _read_group(line, 0, echoes)
        if not group.letters or not (group.boxed or _LABEL_END.match(line, group.end)):
            break
        letters += group.letters
    return letters


# "[\n,;、]|\band\b", each alternative opening with a literal, so the scan skips ahead in C.
_PART_SEPARATOR = re.compile(r"\n|,|;|、|and(?<!\wand)\b")


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
    for cut in itertools.chain(_PART_SEPARATOR.finditer(text), [None]):  # each part an option's text
        part = text[pos : cut.start() if cut else None]
        if part.strip():
            if not (found := letter(part)):
                return []  # the first part that is not stops the reading: the rest is not cut up
            letters.append(found)
        pos = cut.end() if cut else pos
    return letters if len(letters) >= 2 else []


# The article or pronoun (:func:`_is_word`), passed over by the pattern itself (no Python step each).
_ARTICLE = rf"[AI]\s+(?!(?:{'|'.join(sorted(_CONNECTORS))})(?![a-z'’]))[a-z][a-z'’]+"
_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])[(\[（](?P<boxed>[A-Za-z])[)\]）]"
    rf"|(?<![A-Za-z0-9/\-])(?!{_ARTICLE})(?P<bare>[A-Z])(?![A-Za-z0-9/\-]|\.[A-Za-z])"
)


def _tokens(text: str, folded: str, valid: str) -> list[str]:
    """Valid letters standing alone (upper case, not the article, or bracketed), each once, in order
    of appearance; a negated or excluded one ("not C", "rules out A", "C is incorrect") is left out."""
    found, wanted = [], set(valid)
    # Only letters near a negation or predicate word are looked at again (one pass over the text).
    negations = [m.start() for m in _NEGATION_WORD.finditer(folded)]
    predicates = [m.start() for m in _PREDICATE_WORD.finditer(folded)]
    for m in _TOKEN.finditer(text):
        letter = m["bare"] or m["boxed"].upper()
        start, end = m.span()
        if letter not in wanted:
            continue
        if any(_EXCLUDED_BEFORE.match(text, g, start) for g in _between(negations, start - _EXCLUSION_REACH, start)):
            continue
        if _between(predicates, end, end + _EXCLUSION_REACH) and _EXCLUDED_AFTER.match(text, end):
            continue
        found.append(letter)
        wanted.discard(letter)
        if not wanted:
            break
    return found


_ALL = r"(?:all|every(?:thing|\s+(?:one|option|choice))?)(?:\s+(?:of\s+)?(?:them|the\s+(?:options|choices|above)|options|choices))?"
# Possessive spaces (``\s*+``) where two runs meet: else a long run is split every way (cubic).
_ALL_OF_THEM = re.compile(rf"\s*{_ALL}\s*+(?:are\s+(?:correct|right|true))?\s*+[.!]?\s*", re.IGNORECASE)
_ALL_EXCEPT = re.compile(
    rf"\s*{_ALL}\s*+(?:are\s+(?:correct|right|true)\s*+)?,?\s*+(?:except(?:\s+for)?|but(?!\s+not)|other\s+than|apart\s+from|besides)\s+",
    re.IGNORECASE,
)
_SLASHED = re.compile(r"\s*[A-Ha-h](?:\s*/\s*[A-Ha-h])+\s*+[.!]?\s*")
# Of a run of spaces after the letter only two splits matter: all of it, or all but its last space.
_RUN = r"(?:\s*+|(?>\s*(?=\s(?!\s))))"
_VERDICTS = "yes|no|true|false|correct|incorrect|present|absent|right|wrong"
_VERDICT = re.compile(
    rf"(?<![A-Za-z0-9])[(\[]?(?P<letter>[A-H])[)\]]?(?:\s*+[.:)\-–]{_RUN}|{_RUN})[^\n;/|]{{0,40}}?[\s:=\-–(]"
    rf"(?P<verdict>{_VERDICTS})\b",
    re.IGNORECASE,
)
_VERDICT_WORD = re.compile(rf"\b(?:{_VERDICTS})\b", re.IGNORECASE)
_POSITIVE = frozenset({"yes", "true", "correct", "present", "right"})


def _whole_answer_shapes(text: str, valid: str) -> tuple[Outcome, list[str]] | None:
    """Answers naming letters by what they leave out or a verdict per option ("All of the above",
    "All except A and C", "A/B", "A: Yes / B: No"); ``None`` for any other answer."""
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


# "Wait, no", "actually", "on second thought": what follows replaces what came before.
_REVISION = re.compile(  # folded
    r"\b(?:wait|actually|correction|on\s+second\s+thought|looking\s+again|scratch\s+that|i\s+mean)\b"
)


def _revision(text: str, folded: str, group: _Group, valid: str) -> tuple[Outcome, list[str]] | None:
    """A declaration taken back ("B. Wait, no, C."): the one letter after it, or ``ambiguous``."""
    m = _REVISION.search(folded, group.end)
    after = sorted(_tokens(text[m.end() :], folded[m.end() :], valid)) if m else []
    if not after:
        return None
    return ("ok", after) if len(after) == 1 else ("ambiguous", [])


_SENTENCE_END = re.compile(r"[.!?\n]\s*")


def _final_letters(text: str, echoes: dict[str, re.Pattern[str]]) -> _Group | None:
    """A closing sentence of letters only after prose: "B would be rude. A.", "C? No. A."."""
    body = text.rstrip(" \t.!?\n")
    cut = max(body.rfind(c) for c in ".!?\n")  # where the last sentence starts
    if cut < 0:
        return None
    last = _SENTENCE_END.match(text, cut).end()
    group = _letters_only(text, _read_group(text, last, echoes))
    return group if group and re.search(r"[A-Za-z]{2,}", text[:last]) else None


def _read_letters(response: str, options: Sequence[str]) -> tuple[Outcome, list[str]]:
    """The letters an answer gives, by the steps in the module docstring, with an outcome."""
    text = _clean(response)
    if not text:
        return "empty", []
    valid = option_letters(options)
    if (special := _whole_answer_shapes(text, valid)) is not None:
        return special
    echoes = _echo_patterns(options, valid)
    folded = _fold(text)
    first = _read_group(text, 0, echoes)
    group = _letters_only(text, first) or _last_declaration(text, folded, echoes) or _final_letters(text, echoes)
    if group:
        if (revised := _revision(text, folded, group, valid)) is not None:
            return revised
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


_NUMBER_WORDS = {
    "zero": 0, "none": 0, "no one": 0, "nobody": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_NOBODY = r"no\s+(?:one|people|persons?|humans?|individuals?|men|women|children|kids|adults)\b"
_WORD = rf"{_NOBODY}|nobody|none|zero|one|two|three|four|five|six|seven|eight|nine|ten"
# Not part of a word, a decimal list, a time ("0:05") or a thousands group ("1,000"); folded.
_NUMBER = re.compile(rf"(?<![a-z0-9_.,])(?<!\d:)(?:(?P<digits>\d+(?:\.\d+)?)|(?P<word>{_WORD}))(?![a-z0-9_]|[.,:]\d)")
_NUMBER_LEAD_IN = re.compile(
    r"(?:\b(?:answer|total|count|number|sum|result)s?\b[^.\n\d]{0,40}?(?:\s*[:：=]|\b(?:is|are|was|were|be|of)\b)"
    r"|答案(?:是|为)?"
    r"|\b(?:therefore|thus|hence|so)\b,?(?:\s+there\s+(?:are|is|were))?(?:\s+a\s+total\s+of)?)"
    r"\s*[:：=]?\s*(?:about\s+|approximately\s+)?$",
    re.IGNORECASE,
)
# Every place a _NUMBER_LEAD_IN match could start (a superset: no word boundaries asked; folded).
_NUMBER_KEYWORD = re.compile(r"answer|total|count|number|sum|result|答案|therefore|thus|hence|so")
# "3 or 4", "2-3", "two to three": a range or a hedge, not one number.
_NUMBER_HEDGE = re.compile(rf"\s*(?:or|to|-|–|~)\s*(?:\d|(?:{_WORD})\b)", re.IGNORECASE)
_NUMBER_TRAILER = re.compile(r"\s+(?:[a-z]+\s+)?(?:in\s+total|in\s+all|altogether|total)\b", re.IGNORECASE)
_TRAILER_WORD = re.compile(r"total|all|altogether")  # a superset of the trailers' words; folded
# "2 women and 1 man in total": the trailer closes a list, it does not declare its last item.
_LIST_ITEM = re.compile(r"\b(?:and|plus)\s+$", re.IGNORECASE)
# "the one on the left", "one of them": the pronoun, not a count.
_PRONOUN_WORDS = ("the", "this", "that", "which", "each", "every", "any", "another")
_PRONOUN_ONE = re.compile(rf"\b(?:{'|'.join(_PRONOUN_WORDS)})\s+$", re.IGNORECASE)
# Without one of these words anywhere no "one" is the pronoun ("another" holds "the"); folded.
_PRONOUN_WORD = re.compile(r"the|this|that|which|each|every|any|of")


def _number_value(found: str) -> int | None:
    """The whole number a (folded) match stands for; ``None`` for a fraction (2.5; 3.0 is 3)."""
    if not found[0].isdigit():
        word = re.sub(r"\s+", " ", found)
        return 0 if word.startswith("no ") else _NUMBER_WORDS[word]
    value = float(found)
    return int(value) if value.is_integer() else None


_OF = re.compile(r"\s+of\b")


def _is_pronoun_one(text: str, m: re.Match[str]) -> bool:
    """Whether "one" is the pronoun, from the words next to it only (linear in many "one"s)."""
    if m[0] != "one":
        return False
    gap = m.start()
    while gap and text[gap - 1].isspace():
        gap -= 1
    longest = max(map(len, _PRONOUN_WORDS))
    return bool(_PRONOUN_ONE.search(text, max(0, gap - longest), m.start()) or _OF.match(text, m.end()))


def _is_declared_number(text: str, m: re.Match[str], keywords: Sequence[int]) -> bool:
    """Whether a number is declared ("the total is 5", "so there are 5", "5 in total"); a lead-in
    is looked for only with one of ``keywords`` in the 80 characters before (linear)."""
    start = max(0, m.start() - 80)
    if _between(keywords, start, m.start()) and _NUMBER_LEAD_IN.search(text[start : m.start()]):
        return True
    return bool(_NUMBER_TRAILER.match(text, m.end())) and not _LIST_ITEM.search(text[start : m.start()])


# "at least 3", "more than 9": a bound, not a count.
_BOUND = re.compile(
    r"(?:\bat\s+(?:least|most)|\b(?:more|fewer|less)\s+than|\bover|\bunder|\bup\s+to|\bno\s+more\s+than|>|<|≥|≤)\s*$",
    re.IGNORECASE,
)
# "-1", "minus 2": a negative number is no count.
_MINUS = re.compile(r"(?:(?<![A-Za-z0-9])[-−–]|\bminus\s+)$", re.IGNORECASE)
# "7 people, not 6", "rather than 5": the number ruled out.
_NOT_NUMBER = re.compile(r"(?:\bnot|\brather\s+than|\binstead\s+of|\bnor)\s+(?:exactly\s+)?$", re.IGNORECASE)
# "2 of them children", "two of whom": part of a count already given.
_PART_OF = re.compile(r"\s+of\s+(?:them|whom|those|these)\b", re.IGNORECASE)
# "There are 4 people: two men and two women", "4 in total: ...": a count followed by its breakdown.
_HEADLINE = re.compile(
    r"\s+(?:(?:people|persons|individuals|humans|figures)\b(?:\s+in\s+total|\s+in\s+all|\s+altogether)?"
    r"|in\s+total|in\s+all|altogether)\s*(?:[:：(—–]|,\s*(?:namely|including)\b)",
    re.IGNORECASE,
)


# Where a "not", a bound or a minus could start (a superset; folded): numbers look back from these only.
_GUARD = re.compile(r"not|rather|instead|nor|at|more|fewer|less|over|under|up|no|<|>|≥|≤|minus|-|−|–")
_GUARD_KIND = {
    "not": "not", "rather": "not", "instead": "not", "nor": "not", "minus": "minus", "-": "minus", "−": "minus", "–": "minus",
}  # fmt: skip
_HEADLINE_WORD = re.compile(r"people|persons|individuals|humans|figures|in\s+total|in\s+all|altogether")  # folded


def _between(positions: Sequence[int], low: int, high: int) -> Sequence[int]:
    """The sorted ``positions`` in [low, high): the few places near a match worth trying a pattern from."""
    return positions[bisect.bisect_left(positions, low) : bisect.bisect_left(positions, high)]


def _before(text: str, m: re.Match[str], pattern: re.Pattern[str], guards: Sequence[int]) -> bool:
    """Whether ``pattern`` ends right before the number, started from a guard in the 30 characters before."""
    return any(pattern.match(text, g, m.start()) for g in _between(guards, m.start() - 30, m.start()))


def parse_number(response: str) -> Parsed:
    """A whole number: the last declared one ("the total is 5"), else the one value mentioned;
    number words (up to ten) count only without digits ("one of them" vs "3 people")."""
    text = _clean(response)
    if not text:
        return Parsed("empty")
    folded = _fold(text)
    numbers = list(_NUMBER.finditer(folded))
    if _PRONOUN_WORD.search(folded):
        numbers = [m for m in numbers if not _is_pronoun_one(text, m)]
    guards: dict[str, list[int]] = {"not": [], "bound": [], "minus": []}
    for g in _GUARD.finditer(folded):
        guards[_GUARD_KIND.get(g[0], "bound")].append(g.start())
    if guards["minus"] and any(m["digits"] and _before(text, m, _MINUS, guards["minus"]) for m in numbers):
        return Parsed("invalid")
    if guards["not"]:
        numbers = [m for m in numbers if not _before(text, m, _NOT_NUMBER, guards["not"])]
    if " of " in text:
        numbers = [m for m in numbers if not _PART_OF.match(text, m.end())]
    # The last declared number, looked for from the end and only with a word that could declare one.
    keywords = [k.start() for k in _NUMBER_KEYWORD.finditer(folded)]
    declarable = bool(keywords) or bool(_TRAILER_WORD.search(folded))
    declared = (
        next((m for m in reversed(numbers) if _is_declared_number(text, m, keywords)), None) if declarable else None
    )
    if _HEADLINE_WORD.search(folded):
        declared = next((m for m in numbers if _HEADLINE.match(text, m.end())), declared)
    bounds = guards["bound"]
    if bounds and any(_before(text, m, _BOUND, bounds) for m in ([declared] if declared else numbers)):
        return Parsed("ambiguous")
    if declared and _NUMBER_HEDGE.match(text, declared.end()):
        return Parsed("ambiguous")
    chosen = [declared] if declared else [m for m in numbers if m["digits"]] or numbers
    values = {_number_value(found) for found in {m[0] for m in chosen}}
    if not values:
        return Parsed("unparsed")
    if len(values) > 1:
        return Parsed("ambiguous")
    value = values.pop()
    return Parsed("invalid") if value is None else Parsed("ok", str(value))


def parse(response: str, answer_format: AnswerFormat, options: Sequence[str] = ()) -> Parsed:
    """Dispatch on the item's answer format."""
    if answer_format == "single":
        return parse_single(response, options)
    if answer_format == "multi":
        return parse_multi(response, options)
    if answer_format == "numeric":
        return parse_number(response)
    raise ValueError(f"unknown answer format {answer_format!r}")
