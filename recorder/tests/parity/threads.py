import threading

results = [0] * 8


def work(i):
    total = 0
    for k in range(2000):
        total += k * i
    results[i] = total


threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sum(results))
