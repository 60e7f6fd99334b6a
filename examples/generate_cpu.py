"""Generates examples/cpu.csv: 3 days of 5-minute CPU utilisation (percent) with a daily
cycle, Gaussian noise, one spike (2024-03-02 09:20) and a one-hour surge (2024-03-03 10:20).

Synthetic and seeded, so the file is reproducible and free of licence questions:
    python3 examples/generate_cpu.py > examples/cpu.csv
"""

import datetime
import math
import random

random.seed(42)
start = datetime.datetime(2024, 3, 1)
print("timestamp,value")
for i in range(864):
    t = start + datetime.timedelta(minutes=5 * i)
    v = 40 + 15 * math.sin(2 * math.pi * i / 288) + random.gauss(0, 1.5)
    if i == 400:
        v += 35
    if 700 <= i < 712:
        v += 25
    print(f"{t:%Y-%m-%d %H:%M:%S},{v:.3f}")
