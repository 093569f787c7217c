"""Validation: every setting gives a valid value or a ConfigError naming the field, never anything else."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import PARSERS, Config, ConfigError, make_config


@pytest.mark.parametrize(
    "field,text,value",
    [
        ("learning_rate", "0.5", 0.5),
        ("learning_rate", " 1e-4 ", 1e-4),
        ("seed", "42", 42),
        ("seed", "1e3", 1000),
        ("init_seed", "", None),
        ("init_seed", "none", None),
        ("init_seed", "7", 7),
        ("threshold", "-1", -1.0),
        ("threshold", "inf", math.inf),
        ("max_iter", "1_000", 1000),
        ("max_iter", "1e6", 1_000_000),
        ("dtype", "Float64", "float64"),
        ("device", "cuda:1", "cuda:1"),
        ("logdir", "my runs", "my runs"),
    ],
)
def test_good_values(field, text, value):
    assert getattr(make_config(**{field: text}), field) == value


@pytest.mark.parametrize(
    "field,text,reason",
    [
        ("learning_rate", "abc", "expected a number"),
        ("learning_rate", "", "expected a number, got nothing"),
        ("learning_rate", "0", "positive"),
        ("learning_rate", "-0.1", "positive"),
        ("learning_rate", "nan", "positive finite"),
        ("learning_rate", "inf", "positive finite"),
        ("seed", "4.5", "integer"),
        ("seed", "-1", "between 0"),
        ("seed", "x", "integer"),
        ("threshold", "nan", "NaN"),
        ("max_iter", "0", "positive integer"),
        ("max_iter", "-5", "positive integer"),
        ("max_iter", "2.5", "integer"),
        ("max_iter", "inf", "integer"),
        ("dtype", "float16", "float32, float64"),
        ("device", "tpu", "cpu, cuda"),
        ("logdir", "  ", "folder"),
    ],
)
def test_bad_values_name_the_field_and_reason(field, text, reason):
    with pytest.raises(ConfigError) as error:
        make_config(**{field: text})
    assert reason in error.value.reason
    assert str(error.value).startswith(error.value.field + ": ")


def test_unknown_setting():
    with pytest.raises(ConfigError, match="not a setting"):
        make_config(lr=1)


def test_replace_validates_and_keeps_the_rest():
    config = Config().replace(learning_rate="0.5")
    assert config.learning_rate == 0.5 and config.seed == 42
    with pytest.raises(ConfigError):
        config.replace(max_iter="-1")


def test_run_name_says_the_hyperparameters():
    assert (
        Config(learning_rate=0.5, init_seed=42).run_name() == "lr0.5_seed42_init42_thr0.7_float32"
    )
    # A student's Functions carry the file's stem: not the reference's name.
    student = Config().replace(functions="tp1/alice tp1.py")
    assert student.run_name() == "lr0.01_seed42_alice-tp1_thr0.7_float32"


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(PARSERS)), text=st.text(max_size=40))
def test_any_text_gives_a_value_or_a_config_error(field, text):
    try:
        config = make_config(**{field: text})
    except ConfigError as error:
        assert error.field and error.reason and "\n" not in str(error)
    else:
        assert isinstance(config, Config)
