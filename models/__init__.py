"""ONNX models of the detection core, and where to find them at run time."""

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
FEATURES_MODEL = MODELS_DIR / "lenswatch_features.onnx"
