"""The robust answer parser on realistic model answers, including the ones peer tasks misread."""

from __future__ import annotations

import pytest

from lmms_humansense.answers import (
    Parsed,
    focus,
    option_letters,
    option_text,
    parse,
    parse_multi,
    parse_number,
    parse_single,
)

EMOTIONS = ["A. happy", "B. angry", "C. sad", "D. surprised"]
ACTIONS = ["A. walking", "B. sitting", "C. running", "D. sleeping"]
SCENE = ["A. She is comforting him", "B. She is scolding him", "C. She is ignoring him"]
FIVE = ["A. happy", "B. angry", "C. sad", "D. surprised", "E. calm"]


def ok(value: str) -> Parsed:
    return Parsed("ok", value)


EMPTY, UNPARSED, AMBIGUOUS, INVALID = Parsed("empty"), Parsed("unparsed"), Parsed("ambiguous"), Parsed("invalid")

SINGLE = [
    # Bare letters in every dress a model puts on them.
    ("B", EMOTIONS, ok("B")),
    ("(B)", EMOTIONS, ok("B")),
    ("b.", EMOTIONS, ok("B")),
    ("B.", EMOTIONS, ok("B")),
    ("**B**", EMOTIONS, ok("B")),
    ("  B\n", EMOTIONS, ok("B")),
    ("[C]", EMOTIONS, ok("C")),
    ("$\\boxed{D}$", EMOTIONS, ok("D")),
    ("a", EMOTIONS, ok("A")),
    # A letter with its option text.
    ("B) angry", EMOTIONS, ok("B")),
    ("B. angry", EMOTIONS, ok("B")),
    ("B: angry", EMOTIONS, ok("B")),
    ("(B) angry", EMOTIONS, ok("B")),
    ("b. angry", EMOTIONS, ok("B")),
    ("A. happy", EMOTIONS, ok("A")),
    ("B - the man looks angry", EMOTIONS, ok("B")),
    ("Option C: she is comforting him", SCENE, ok("C")),
    ("B\n\nExplanation: The man's clenched fists and raised voice (not C, sad) show anger.", EMOTIONS, ok("B")),
    # The exact option text.
    ("angry", EMOTIONS, ok("B")),
    ("Surprised.", EMOTIONS, ok("D")),
    ("She is scolding him", SCENE, ok("B")),
    # Declarations; the last one wins.
    ("Answer: B", EMOTIONS, ok("B")),
    ("answer: b", EMOTIONS, ok("B")),
    ("**Answer:** D", EMOTIONS, ok("D")),
    ("The correct option is (D).", EMOTIONS, ok("D")),
    ("I choose B", EMOTIONS, ok("B")),
    ("I'd go with option C.", EMOTIONS, ok("C")),
    ("A woman is speaking angrily, so the answer is C", EMOTIONS, ok("C")),
    ("The correct answer is B. The woman's raised eyebrows suggest surprise.", EMOTIONS, ok("B")),
    ("The answer is A because she is smiling throughout the clip.", EMOTIONS, ok("A")),
    ("The answer is probably D.", EMOTIONS, ok("D")),
    ("Final answer: (c) sad", EMOTIONS, ok("C")),
    ("C is the correct answer.", EMOTIONS, ok("C")),
    ("A is correct: the woman laughs at the end.", EMOTIONS, ok("A")),
    ("Option B seems most plausible given his tone.", EMOTIONS, ok("B")),
    ("答案：C", EMOTIONS, ok("C")),
    (
        "Let's consider each option. A (happy) does not fit his frown, and C (sad) is unlikely because he is "
        "shouting. D is possible, but the best answer is B.",
        EMOTIONS,
        ok("B"),
    ),
    (
        "Option A suggests joy, option B anger. The man slams the door, which points to anger. Therefore, B.",
        EMOTIONS,
        ok("B"),
    ),
    ("B. angry\n\nOn reflection, the tears suggest sadness, so the answer is C.", EMOTIONS, ok("C")),
    ("I wouldn't choose A, since nobody smiles. The answer is C.", EMOTIONS, ok("C")),
    ("The answer is not A; C is correct.", EMOTIONS, ok("C")),
    # Tags.
    ("<think>The man frowns, maybe A? No, he shouts, so B.</think><answer>B</answer>", EMOTIONS, ok("B")),
    ("<think>Could be A or C.</think>\nThe answer is C.", EMOTIONS, ok("C")),
    ("<think>draft <answer>A</answer></think><answer>D</answer>", EMOTIONS, ok("D")),
    ("<answer>A</answer> wait, <answer>C</answer>", EMOTIONS, ok("C")),
    ("He shouts, so probably B.</think> C", EMOTIONS, ok("C")),
    ("<think>The man is clearly angry, the answer is B", EMOTIONS, EMPTY),
    ("<think>hmm</think><answer></answer>", EMOTIONS, EMPTY),
    ("<think>A or B?</think><answer>B", EMOTIONS, ok("B")),
    # Prose the peers misread.
    ("Based on the video, the man seems angry.", EMOTIONS, UNPARSED),
    ("a man is angry", EMOTIONS, UNPARSED),
    ("A woman is speaking in a calm voice.", EMOTIONS, UNPARSED),
    ("I cannot tell", EMOTIONS, UNPARSED),
    ("I cannot tell from the video, e.g. the face is hidden.", EMOTIONS, UNPARSED),
    ("Answer: N/A", EMOTIONS, UNPARSED),
    ("The woman's expression matches (D).", EMOTIONS, ok("D")),
    ("The emotion displayed is anger, corresponding to option B.", EMOTIONS, ok("B")),
    ("**B. angry** — The man slams the table.", EMOTIONS, ok("B")),
    ("Looking at the options:\n- A. happy: no\n- B. angry: yes\n- C. sad: no\n\nAnswer: B", EMOTIONS, ok("B")),
    ("After analyzing the video, I conclude that the answer is **(C) sad**.", EMOTIONS, ok("C")),
    ("The answer is A. A woman is crying in the background.", EMOTIONS, ok("A")),
    # A negated letter is not the answer.
    ("The man is angry (B), not sad (C).", EMOTIONS, ok("B")),
    ("Not A, but B.", EMOTIONS, ok("B")),
    ("I don't think B is correct.", EMOTIONS, UNPARSED),
    # Several letters, or none of the item's.
    ("B and C", EMOTIONS, AMBIGUOUS),
    ("The answer is B or C.", EMOTIONS, AMBIGUOUS),
    ("It is either A or D, hard to say.", EMOTIONS, AMBIGUOUS),
    ("A. happy\nB. angry\nC. sad\nD. surprised", EMOTIONS, AMBIGUOUS),
    ("E", EMOTIONS, INVALID),
    ("The answer is E.", EMOTIONS, INVALID),
    ("E", FIVE, ok("E")),
    ("", EMOTIONS, EMPTY),
    ("   ", EMOTIONS, EMPTY),
]

MULTI = [
    ("AC", ACTIONS, ok("AC")),
    ("A, C", ACTIONS, ok("AC")),
    ("A and C", ACTIONS, ok("AC")),
    ("C, A", ACTIONS, ok("AC")),
    ("(A)(C)", ACTIONS, ok("AC")),
    ("a c", ACTIONS, ok("AC")),
    ("A. walking\nC. running", ACTIONS, ok("AC")),
    ("- A. walking\n- C. running", ACTIONS, ok("AC")),
    ("The answers are A and C.", ACTIONS, ok("AC")),
    ("The correct answers are (A) walking and (C) running.", ACTIONS, ok("AC")),
    ("A and C are correct, since he walks and then runs.", ACTIONS, ok("AC")),
    ("Answer: B, C, D", ACTIONS, ok("BCD")),
    ("<think>He sits first, then stands... A? C?</think><answer>A,C</answer>", ACTIONS, ok("AC")),
    ("walking, running", ACTIONS, ok("AC")),
    ("D", ACTIONS, ok("D")),
    ("A, E", ACTIONS, INVALID),
    ("The answers are A and F.", ACTIONS, INVALID),
    ("A or C", ACTIONS, AMBIGUOUS),
    ("He is doing several things in the video.", ACTIONS, UNPARSED),
    ("", ACTIONS, EMPTY),
]

NUMBERS = [
    ("3", ok("3")),
    ("10", ok("10")),
    ("10.", ok("10")),
    ("**4**", ok("4")),
    ("There are 3 people", ok("3")),
    ("three", ok("3")),
    ("There are three people in the room.", ok("3")),
    ("<think>maybe 2 or 4</think><answer>4</answer>", ok("4")),
    ("I count 2 men and 3 women, so the total is 5", ok("5")),
    ("2 men and 3 women, 5 people in total.", ok("5")),
    ("The number of people in the video is 6.", ok("6")),
    ("There are 3 people: one is waving and two are seated.", ok("3")),
    ("At 0:05 a man enters; the answer is 2.", ok("2")),
    ("Two men and one woman, three in total.", ok("3")),
    ("Only one person appears.", ok("1")),
    ("The one on the left is waving.", UNPARSED),
    ("There are 2 women and 1 man in total.", AMBIGUOUS),
    ("I see 2 or maybe 3 people.", AMBIGUOUS),
    ("The answer is 3 or 4.", AMBIGUOUS),
    ("I cannot determine the count.", UNPARSED),
    ("2.5", INVALID),
    ("", EMPTY),
]


@pytest.mark.parametrize(("response", "options", "expected"), SINGLE)
def test_single(response: str, options: list[str], expected: Parsed) -> None:
    assert parse_single(response, options) == expected


@pytest.mark.parametrize(("response", "options", "expected"), MULTI)
def test_multi(response: str, options: list[str], expected: Parsed) -> None:
    assert parse_multi(response, options) == expected


@pytest.mark.parametrize(("response", "expected"), NUMBERS)
def test_number(response: str, expected: Parsed) -> None:
    assert parse_number(response) == expected


@pytest.mark.parametrize(
    ("answer_format", "response", "options", "expected"),
    [
        ("single", "The answer is C", EMOTIONS, ok("C")),
        ("multi", "C, A", ACTIONS, ok("AC")),
        ("numeric", "10", (), ok("10")),
    ],
)
def test_parse_dispatches(answer_format: str, response: str, options: list[str], expected: Parsed) -> None:
    assert parse(response, answer_format, options) == expected  # type: ignore[arg-type]


def test_parse_rejects_unknown_format() -> None:
    with pytest.raises(ValueError):
        parse("A", "essay", ["A. x"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "letters"),
    [
        (EMOTIONS, "ABCD"),
        (["(A) happy", "(B) angry"], "AB"),
        (["A: yes", "B: no", "C: unsure"], "ABC"),
        (["happy", "angry", "A man is sad"], "ABC"),
    ],
)
def test_option_letters(options: list[str], letters: str) -> None:
    assert option_letters(options) == letters


def test_option_text_drops_label_and_normalises() -> None:
    assert option_text("B. **Angry**.") == "angry"
    assert option_text("(C) She is ignoring him") == "she is ignoring him"


@pytest.mark.parametrize(
    ("response", "focused"),
    [
        ("<think>A?</think><answer> B </answer>", "B"),
        ("<think>A?</think> B", "B"),
        ("B <think>but maybe", "B"),
        ("reasoning</think>B", "B"),
        ("plain B", "plain B"),
    ],
)
def test_focus(response: str, focused: str) -> None:
    assert focus(response) == focused
