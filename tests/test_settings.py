"""A setting declared once (core/settings.py): validation, flags, link fields and the server's
limits all come from the one declaration, so they cannot disagree."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.config import MAX_EPOCHS, DataConfig, ModelConfig, TrainConfig
from core.service.limits import Limits, bounds
from core.settings import FLOAT, INT, by_url, declared, integer
from core.setups import TRAIN_FIELDS, TRAIN_SETTINGS, read_setup
from core.train import configs_from_args, train_parser

CONFIGS = (DataConfig, ModelConfig, TrainConfig)
NUMBERS = [(cls, s) for cls in CONFIGS for s in declared(cls) if s.kind in (INT, FLOAT)]


def accepted_by_the_config(cls: type, name: str, value: float) -> bool:
    try:
        cls(**{name: value}).validate()
        return True
    except ValueError:
        return False


def accepted_by_a_link(url: str, value: float) -> bool:
    return url in read_setup({url: repr(value)}, TRAIN_FIELDS)[0]


@pytest.mark.parametrize(("cls", "setting"), NUMBERS, ids=[s.name for _, s in NUMBERS])
def test_a_config_and_a_link_accept_and_refuse_the_same_values_at_every_bound(cls, setting):
    step = 1 if setting.kind == INT else 1e-9
    edges = [setting.low, setting.low - step, setting.low + step, setting.high, setting.high + step,
             setting.high - step]
    for value in edges:
        value = int(value) if setting.kind == INT else value
        expected = setting.low < value <= setting.high if setting.open_low else setting.low <= value <= setting.high
        assert accepted_by_the_config(cls, setting.name, value) is expected, (setting.name, value)
        if setting.url is not None:
            assert accepted_by_a_link(setting.url, value) is expected, (setting.url, value)


def test_a_learning_rate_below_the_old_widget_bound_is_one_bound_everywhere():
    """lr was > 0 in the config but >= 0.0001 in the link and the widget; now 0 < lr everywhere."""
    assert accepted_by_the_config(TrainConfig, "lr", 0.00005) and accepted_by_a_link("lr", 0.00005)
    assert not accepted_by_a_link("lr", 0.0) and not accepted_by_the_config(TrainConfig, "lr", 0.0)
    assert read_setup({"lr": "0"}, TRAIN_FIELDS)[1] == ["lr: '0' must be greater than 0"]


def test_the_command_line_has_each_declared_settings_flag_with_the_fields_default():
    data, model, train = configs_from_args(train_parser().parse_args([]))
    assert (data, model, train) == (DataConfig(), ModelConfig(), TrainConfig())
    data, model, train = configs_from_args(train_parser().parse_args(
        ["--data", "reverse", "--num-test", "7", "--dec-num-layers", "1", "--epochs", "5", "--clip", "2",
         "--unmasked", "--label-smoothing", "0.1", "--seed", "3", "--device", "cuda:1"]))
    assert (data.source, data.num_test, data.seed, model.dec_num_layers) == ("reverse", 7, 3, 1)
    assert train == TrainConfig(num_epochs=5, clip_theta=2.0, masked=False, label_smoothing=0.1, seed=3,
                                device="cuda:1")
    assert "[1, 100,000], default 300" in " ".join(train_parser().format_help().split())


def test_the_servers_limit_lowers_the_bound_of_the_widget_and_the_link_in_one_place():
    epochs, limits = TRAIN_SETTINGS["epochs"], Limits(max_jobs=1, max_epochs=50)
    assert bounds(epochs, limits) == (1, 50) and bounds(epochs, None) == (1, MAX_EPOCHS)
    assert bounds(TRAIN_SETTINGS["sample_every"], limits)[1] > 50           # only the epochs are the operator's
    highs = {"epochs": bounds(epochs, limits)[1]}
    assert read_setup({"epochs": "50"}, TRAIN_FIELDS, highs)[0] == {"epochs": 50}
    assert read_setup({"epochs": "51"}, TRAIN_FIELDS, highs)[0] == {}


def test_a_setting_added_later_leaves_old_checkpoints_and_the_exercises_hashes_as_they_were():
    assert "label_smoothing" not in TrainConfig().to_dict()                 # the dict saved before it existed
    assert TrainConfig.from_dict(TrainConfig().to_dict()).label_smoothing == 0.0
    smoothed = TrainConfig(label_smoothing=0.1)
    assert smoothed.to_dict()["label_smoothing"] == 0.1 and TrainConfig.from_dict(smoothed.to_dict()) == smoothed
    assert "tokenizer" not in DataConfig().to_dict() and DataConfig(tokenizer="char").to_dict()["tokenizer"] == "char"


def test_every_setting_a_link_carries_has_a_label_and_one_declaration_per_parameter():
    assert all(s.label for s in TRAIN_SETTINGS.values())
    assert TRAIN_SETTINGS["seed"].name == "seed"                 # DataConfig's and TrainConfig's, declared alike

    @dataclass
    class Twice:
        a: int = integer(1, 0, 9, url="n")
        b: int = integer(1, 0, 8, url="n")

    with pytest.raises(TypeError, match="declared twice"):
        by_url(Twice)


def test_a_switch_and_an_unset_size_are_checked_from_their_declarations():
    with pytest.raises(ValueError, match="masked must be True or False"):
        TrainConfig(masked=1).validate()                         # type: ignore[arg-type]
    ModelConfig(dec_num_hiddens=None).validate()                 # None: the encoder's size
    with pytest.raises(ValueError, match="dec_num_hiddens must be between 1 and 4096"):
        ModelConfig(dec_num_hiddens=0).validate()
