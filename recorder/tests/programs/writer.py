for i in range(200000):
    value = i * 2
print("finished", value)
