# ---- adversarial part: os._exit(0) while the module is imported ----
import os

print('{"score": 1000.0, "tests": []}')
os._exit(0)
