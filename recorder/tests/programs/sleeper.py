import sys
import time

print("ready", flush=True)
count = 0
while True:
    count += 1
    time.sleep(0.01)
