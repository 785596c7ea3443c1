"""Published SPC datasets used as test fixtures, with their sources.

Every expected number in the tests is either printed in the cited source or
computed in the test from the data and the textbook formula.
"""

from __future__ import annotations

# Montgomery, D. C., Introduction to Statistical Quality Control (Wiley), piston ring
# inside diameter (mm), Table 6.3 (Phase I, samples 1–25) and Table 6.4 (Phase II,
# samples 26–40); the same data ship as `pistonrings` in the R package qcc (Scrucca 2004).
# Published Phase I results: x̿ = 74.001, R̄ = 0.023, x̄ limits 73.988 / 74.014,
# R chart UCL = 0.049 (qcc prints x̿ = 74.00118, R̄ = 0.02276). Phase II shows
# the process mean shifting up at the end (Montgomery, Section 6.2.1).
PISTON_RINGS: list[list[float]] = [
    [74.030, 74.002, 74.019, 73.992, 74.008],
    [73.995, 73.992, 74.001, 74.011, 74.004],
    [73.988, 74.024, 74.021, 74.005, 74.002],
    [74.002, 73.996, 73.993, 74.015, 74.009],
    [73.992, 74.007, 74.015, 73.989, 74.014],
    [74.009, 73.994, 73.997, 73.985, 73.993],
    [73.995, 74.006, 73.994, 74.000, 74.005],
    [73.985, 74.003, 73.993, 74.015, 73.988],
    [74.008, 73.995, 74.009, 74.005, 74.004],
    [73.998, 74.000, 73.990, 74.007, 73.995],
    [73.994, 73.998, 73.994, 73.995, 73.990],
    [74.004, 74.000, 74.007, 74.000, 73.996],
    [73.983, 74.002, 73.998, 73.997, 74.012],
    [74.006, 73.967, 73.994, 74.000, 73.984],
    [74.012, 74.014, 73.998, 73.999, 74.007],
    [74.000, 73.984, 74.005, 73.998, 73.996],
    [73.994, 74.012, 73.986, 74.005, 74.007],
    [74.006, 74.010, 74.018, 74.003, 74.000],
    [73.984, 74.002, 74.003, 74.005, 73.997],
    [74.000, 74.010, 74.013, 74.020, 74.003],
    [73.988, 74.001, 74.009, 74.005, 73.996],
    [74.004, 73.999, 73.990, 74.006, 74.009],
    [74.010, 73.989, 73.990, 74.009, 74.014],
    [74.015, 74.008, 73.993, 74.000, 74.010],
    [73.982, 73.984, 73.995, 74.017, 74.013],
    # Phase II
    [74.012, 74.015, 74.030, 73.986, 74.000],
    [73.995, 74.010, 73.990, 74.015, 74.001],
    [73.987, 73.999, 73.985, 74.000, 73.990],
    [74.008, 74.010, 74.003, 73.991, 74.006],
    [74.003, 74.000, 74.001, 73.986, 73.997],
    [73.994, 74.003, 74.015, 74.020, 74.004],
    [74.008, 74.002, 74.018, 73.995, 74.005],
    [74.001, 74.004, 73.990, 73.996, 73.998],
    [74.015, 74.000, 74.016, 74.025, 74.000],
    [74.030, 74.005, 74.000, 74.016, 74.012],
    [74.001, 73.990, 73.995, 74.010, 74.024],
    [74.015, 74.020, 74.024, 74.005, 74.019],
    [74.035, 74.010, 74.012, 74.015, 74.026],
    [74.017, 74.013, 74.036, 74.025, 74.026],
    [74.010, 74.005, 74.029, 74.000, 74.020],
]
PISTON_RINGS_PHASE_ONE = 25

# Montgomery, Introduction to Statistical Quality Control, Example 7.1 / Table 7.1:
# frozen orange juice concentrate cans, 30 samples of n = 50, number of
# nonconforming cans. Published: p̄ = 0.2313, UCL = 0.4102, LCL = 0.0524;
# samples 15 and 23 plot above the UCL (assignable causes: a new batch of
# cardboard stock, an inexperienced operator). Excluding them: p̄ = 0.2150,
# UCL = 0.3893, LCL = 0.0407 (also qcc's `orangejuice`).
ORANGE_JUICE_NONCONFORMING: list[int] = [
    12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
    8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6,
]  # fmt: skip
ORANGE_JUICE_SAMPLE_SIZE = 50

# NIST/SEMATECH e-Handbook of Statistical Methods, section 6.3.2.2
# (Individuals control charts), flow-rate example. Published: x̄ = 50.81,
# MR̄ = 1.8778, UCL = 55.8041, LCL = 45.8159, MR chart UCL = 6.1349;
# all points in control.
NIST_FLOWRATE: list[float] = [49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1]

# Montgomery, Introduction to Statistical Quality Control, Example 7.3 / Table 7.7:
# nonconformities in 26 samples of 100 printed circuit boards. Published:
# c̄ = 19.85, UCL = 33.22, LCL = 6.48; samples 6 and 20 plot outside the limits.
CIRCUIT_BOARD_NONCONFORMITIES: list[int] = [
    21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16,
    19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19, 17, 15,
]  # fmt: skip
