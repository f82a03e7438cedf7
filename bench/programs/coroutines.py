"""asyncio producer/consumer: coroutines suspending and resuming through the event loop."""
import asyncio
import sys


async def producer(queue, n, worker_count):
    for i in range(n):
        await queue.put(i)
    for _ in range(worker_count):
        await queue.put(None)


async def consumer(queue, results):
    total = 0
    while True:
        item = await queue.get()
        if item is None:
            break
        total += await transform(item)
    results.append(total)


async def transform(item):
    if item % 100 == 0:
        await asyncio.sleep(0)
    return item * 2 + 1


async def run(n):
    queue = asyncio.Queue(maxsize=64)
    results = []
    workers = 4
    await asyncio.gather(
        producer(queue, n, workers), *(consumer(queue, results) for _ in range(workers))
    )
    return sum(results)


def main(n):
    print(f"coroutines({n}) total={asyncio.run(run(n))}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
