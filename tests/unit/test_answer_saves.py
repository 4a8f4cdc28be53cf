"""What the exam page may send as an answer save: `exams.answers.parse_save`'s bounds."""

from __future__ import annotations

import pytest

from exams.answers import MAX_TEXT, AnswerRefused, Save, parse_save


def test_a_well_formed_save_is_parsed_and_repeated_choices_count_once():
    save = parse_save({"question": 3, "version": 2, "choices": [5, 7, 5], "text": ""})
    assert save == Save(question_id=3, version=2, choice_ids=(5, 7), text="")


def test_text_of_the_maximum_length_is_taken():
    assert parse_save({"question": 1, "version": 0, "text": "x" * MAX_TEXT}).text == "x" * MAX_TEXT


@pytest.mark.parametrize(
    "data",
    [
        [],
        "answer",
        {"version": 0},
        {"question": 1},
        {"question": "1", "version": 0},
        {"question": 1, "version": -1},
        {"question": 1, "version": True},
        {"question": 1.5, "version": 0},
        {"question": 1, "version": 0, "choices": "1,2"},
        {"question": 1, "version": 0, "choices": ["1"]},
        {"question": 1, "version": 0, "choices": list(range(101))},
        {"question": 1, "version": 0, "text": 5},
        {"question": 1, "version": 0, "text": "x" * (MAX_TEXT + 1)},
    ],
)
def test_a_malformed_or_oversized_save_is_refused(data):
    with pytest.raises(AnswerRefused):
        parse_save(data)
