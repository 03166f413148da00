"""The words the report shares with the workflow: stages, record file names, modes, arms."""

from __future__ import annotations

DEFAULT_TITLE = "calmodel report: does a calibrator model change the science?"
SWEEP_DIR = "sweep"  # the sweep's map, points.csv and confusion.csv inside the report folder

# stage -> the record file that stage writes
RECORD_FILE_OF_STAGE = {
    "simulate": "tile.json",
    "characterize": "characterize.json",
    "calibrate": "calibrate.json",
    "build_model": "build_model.json",
    "image": "image.json",
    "catalog": "catalog.json",
    "compare": "compare.json",
}
STAGE_OF_RECORD_FILE = {file: stage for stage, file in RECORD_FILE_OF_STAGE.items()}
STAGES = tuple(RECORD_FILE_OF_STAGE)
MODES = ("ql", "se")
ARMS = ("model", "nomodel")
IDENTITY_KEYS = ("tile", "field", "mode", "arm")
MODE_NAMES = {"ql": "QL (Quick Look)", "se": "SE (Single Epoch)"}
MEMO_TABLE_OF_MODE = {"ql": "memo Table 2", "se": "memo Table 3"}
