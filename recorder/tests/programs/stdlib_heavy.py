import json

for i in range(5000):
    s = json.dumps({"a": i, "b": [i, i]})
print(len(s))
