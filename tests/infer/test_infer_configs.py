"""The inference and export configs mirror the flags: same names, same defaults."""
import dataclasses

import pytest
from absl import flags

import lib.flags  # noqa: F401  (defines the flags)
from lib.infer.config import ExportConfig, InferenceConfig


@pytest.mark.parametrize("config_class", (InferenceConfig, ExportConfig), ids=lambda c: c.__name__)
def test_config_defaults_are_the_flag_defaults(config_class):
    for field in dataclasses.fields(config_class):
        assert field.name in flags.FLAGS, f"{config_class.__name__}.{field.name} is not a flag"
        assert flags.FLAGS[field.name].default == field.default, field.name
