def helper(x):
    return x + 1


def work(n):
    return helper(n) * 2
