"""Memory: absurd settings are refused before anything is allocated."""
import pytest
import torch

from core.config import DataConfig, ModelConfig, TrainConfig
from core.model import build_model, count_parameters
from core.resources import check_fits, parameter_count
from core.train import start_run


@pytest.mark.parametrize("config", [ModelConfig(), ModelConfig(cell="lstm", num_layers=3),
                                    ModelConfig(dec_num_hiddens=48, dec_num_layers=1),
                                    ModelConfig(cell="lstm", dec_num_hiddens=16)])
def test_parameter_estimate_is_exact(config):
    assert parameter_count(config, 50, 70) == count_parameters(build_model(config, 50, 70))


def test_a_model_too_big_for_memory_is_refused_before_it_starts():
    huge = ModelConfig(embed_size=4096, num_hiddens=4096, num_layers=8)
    with pytest.raises(ValueError, match="GiB but only"):
        check_fits(huge, 200_000, 200_000, 8192, 200, torch.device("cpu"))
    with pytest.raises(ValueError, match="GiB"):
        start_run(DataConfig(source="copy", num_examples=64, batch_size=8192, num_steps=200), huge, TrainConfig())


def test_the_books_setup_fits():
    check_fits(ModelConfig(), 200, 200, 64, 10, torch.device("cpu"))
