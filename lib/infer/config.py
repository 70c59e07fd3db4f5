"""The configs of ``--mode inference`` and ``--mode export``, built once from the flags by main.py
(with ``config_from_flags``). Field names are the original's flag names and defaults are the flags'
defaults (``tests/infer/test_infer_configs.py`` holds them equal). Imports no TensorFlow:
the checks in ``lib.infer.prepare`` run on these before it loads."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class InferenceConfig:
    """One clip through the recurrent generator (reference 3.3), plus what we added."""
    input_dir_LR: str = None        # a folder of LR frames, or a video file
    input_dir_HR: str = None        # or HR frames, degraded on the fly
    input_dir_len: int = -1
    output_dir: str = None
    output_pre: str = ""
    output_name: str = "output"
    output_ext: str = "jpg"
    summary_dir: str = None         # None = <output_dir>/log
    checkpoint: str = None
    num_resblock: int = 16
    # beyond the original
    overwrite: bool = False
    video_crf: int = 18
    progress: bool = True
    tile: int = 0
    precision: str = "fp32"
    fast_path: bool = True


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """One recurrent step of ``checkpoint`` in ``output_dir``: a SavedModel, or a .tflite or
    .onnx file in that folder (``format``)."""
    checkpoint: str = None
    num_resblock: int = 16
    output_dir: str = None
    overwrite: bool = False
    format: str = "savedmodel"      # savedmodel, tflite or onnx (lib.infer.export.FORMATS)
