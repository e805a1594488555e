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
    """Closed ``<think>`` blocks are dropped (a draft ``<answer>`` in one does not count), then the last
    ``<answer>`` wins; without one, an unclosed ``<think>`` hides the rest, a stray ``</think>`` ends
    reasoning begun in the prompt and an unclosed ``<answer>`` (a truncated reply) marks the start."""
    assert focus(response) == focused


# --- Shapes a careful grader reads, and the old reader missed or inverted ---------------------
# Each shape in several phrasings; an exclusion, a negation, a bound or a hedge never yields the
# letter or number it excludes (it reads as the rest, or as no reading).

NOT_CHOSEN = [  # a letter said to be wrong is not the answer
    "A is incorrect.",
    "A is wrong.",
    "Option A is not correct.",
    "A is not the right answer.",
    "A would be rude.",
    "A can be ruled out.",
]


@pytest.mark.parametrize("response", NOT_CHOSEN)
def test_a_letter_said_to_be_wrong_is_not_read(response: str) -> None:
    assert parse_single(response, EMOTIONS) == UNPARSED
    assert parse_multi(response, ACTIONS) == UNPARSED


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("The answer is B. Wait, no, looking again it is C.", ok("C")),
        ("The answer is A. Actually, on second thought, D.", ok("D")),
        ("I choose B. Wait, it is C.", ok("C")),
        ("The answer is B. Actually, C or D.", AMBIGUOUS),
        ("The answer is B. Actually, she looks furious.", ok("B")),  # a revision naming no letter
    ],
)
def test_a_revised_answer_reads_as_the_revision(response: str, expected: Parsed) -> None:
    assert parse_single(response, EMOTIONS) == expected


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("All except A and C.", ok("BD")),
        ("All except D.", ok("ABC")),
        ("All of them except B", ok("ACD")),
        ("All options but A.", ok("BCD")),
        ("Everything other than C and D", ok("AB")),
        ("All of the above", ok("ABCD")),
        ("All of them.", ok("ABCD")),
        ("All options are correct.", ok("ABCD")),
    ],
)
def test_exclusions_and_all_of_the_above(response: str, expected: Parsed) -> None:
    assert parse_multi(response, ACTIONS) == expected


@pytest.mark.parametrize("response", ["All except D.", "All of the above", "All but A"])
def test_exclusions_on_single_choice_are_ambiguous(response: str) -> None:
    assert parse_single(response, EMOTIONS) == AMBIGUOUS


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("C is incorrect; A and B.", ok("AB")),
        ("D is wrong; A and C.", ok("AC")),
        ("She is waving, which rules out B and D; A and C.", ok("AC")),
        ("He is walking (A), but not sitting down (D).", ok("A")),
        ("The man runs (C), but not a sleeping pose (D)", ok("C")),
        ("A, B, and D", ok("ABD")),
        ("A, C, and D.", ok("ACD")),
        ("A, B and D", ok("ABD")),
    ],
)
def test_multi_select_negations_and_lists(response: str, expected: Parsed) -> None:
    assert parse_multi(response, ACTIONS) == expected


@pytest.mark.parametrize("response", ["C, or possibly D", "A and maybe C", "B, perhaps C", "A or B"])
def test_hedged_letters_are_ambiguous(response: str) -> None:
    assert parse_multi(response, ACTIONS) == AMBIGUOUS
    assert parse_single(response, EMOTIONS) == AMBIGUOUS


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("A: Yes / B: Yes / C: No / D: No", ok("AB")),
        ("A: No / B: Yes / C: Yes / D: No", ok("BC")),
        ("A) walking - no; B) sitting - yes; C) running - yes; D) sleeping - no", ok("BC")),
        ("A: false\nB: true\nC: false\nD: true", ok("BD")),
        ("A: No / B: No / C: No / D: No", UNPARSED),
    ],
)
def test_per_option_verdicts(response: str, expected: Parsed) -> None:
    assert parse_multi(response, ACTIONS) == expected


def test_per_option_verdicts_on_single_choice() -> None:
    assert parse_single("A) happy - no; B) angry - yes; C) sad - no; D) surprised - no", EMOTIONS) == ok("B")
    assert parse_single("A: Yes / B: Yes / C: No / D: No", EMOTIONS) == AMBIGUOUS


@pytest.mark.parametrize(
    ("response", "options", "expected"),
    [
        ("Ｂ", EMOTIONS, ok("B")),
        ("答案：Ｃ", EMOTIONS, ok("C")),
        ("Ｄ。", EMOTIONS, ok("D")),
        ("（Ｂ）", EMOTIONS, ok("B")),
    ],
)
def test_full_width_letters(response: str, options: list[str], expected: Parsed) -> None:
    assert parse_single(response, options) == expected


@pytest.mark.parametrize(("response", "expected"), [("Ａ，Ｃ", ok("AC")), ("Ａ、Ｃ", ok("AC")), ("Ｂ，Ｄ", ok("BD"))])
def test_full_width_letter_sets(response: str, expected: Parsed) -> None:
    assert parse_multi(response, ACTIONS) == expected


@pytest.mark.parametrize(
    ("response", "options", "expected"),
    [
        ("He keeps turning toward the man on the left, so the speaker is A", EMOTIONS, ok("A")),
        ("D seems off and C is too strong, so the best fit is B", EMOTIONS, ok("B")),
        ("She raises her voice, which is option B", EMOTIONS, ok("B")),
        ("She smiles at the end, which is A.", EMOTIONS, ok("A")),
        ("B and C do not fit the tone. That leaves A.", EMOTIONS, ok("A")),
        ("C and D are out. That leaves option B.", EMOTIONS, ok("B")),
        ("B would be rude. A.", EMOTIONS, ok("A")),
        ("C? No. A.", EMOTIONS, ok("A")),
        ("D is too much. B is too little. C.", EMOTIONS, ok("C")),
        ("E. calm. She is relaxed, which rules out A and C.", FIVE, ok("E")),
        ("E. calm — she is relaxed, which rules out B and D.", FIVE, ok("E")),
    ],
)
def test_a_conclusion_after_reasoning_that_names_other_letters(
    response: str, options: list[str], expected: Parsed
) -> None:
    assert parse_single(response, options) == expected


@pytest.mark.parametrize(("response", "expected"), [("A/B", ok("AB")), ("B/C", ok("BC")), ("A / C / D", ok("ACD"))])
def test_slashed_letters(response: str, expected: Parsed) -> None:
    assert parse_multi(response, ACTIONS) == expected
    assert parse_single(response, EMOTIONS) == AMBIGUOUS


@pytest.mark.parametrize(
    "response", ["at least 3", "more than 9", "There are at least 4 people.", "over 5 people", "fewer than 3"]
)
def test_a_bound_is_not_a_count(response: str) -> None:
    assert parse_number(response) == AMBIGUOUS


@pytest.mark.parametrize("response", ["-1", "minus 2", "The count is -3."])
def test_a_negative_number_is_not_a_count(response: str) -> None:
    assert parse_number(response) == INVALID


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("There are 4 people in total: two men and two women.", ok("4")),
        ("5 people in total: 3 adults and 2 kids", ok("5")),
        ("There are four people: two men and two women", ok("4")),
        ("There are 6 people (four men and two women).", ok("6")),
        ("3 people, 2 of them children", ok("3")),
        ("I see six people, two of whom are children.", ok("6")),
        ("There are 7 people, not 6", ok("7")),
        ("5 people rather than 4", ok("5")),
        ("There are no people in the video", ok("0")),
        ("No one appears in the clip.", ok("0")),
        ("３", ok("3")),
    ],
)
def test_a_count_with_its_breakdown_or_a_correction(response: str, expected: Parsed) -> None:
    assert parse_number(response) == expected


@pytest.mark.parametrize("response", ["nİne people", "NİNE", "There are nıne"])
def test_a_number_word_with_a_dotted_or_dotless_i_is_read(response: str) -> None:
    """The case-blind match reads "İ" and "ı" as "i"; the word's value follows it (it was a KeyError
    on "ni̇ne", the two-character lower case of "İ").  The reader's lower-cased copy keeps every
    position: "İ", "ı" and "ſ" fold to the ASCII letter IGNORECASE matches them with."""
    assert parse_number(response) == ok("9")
