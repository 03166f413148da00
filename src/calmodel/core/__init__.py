"""What every stage may use: CASA access, measurement-set reading, field roles, the
calibrator pre-calibration, component lists, images, atomic writing, records,
statistics, constants, product names and the settings-to-option helper.

Nothing in ``calmodel.core`` imports a stage (tests/test_layout.py enforces it).
"""
