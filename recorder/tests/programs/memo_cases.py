"""Values that change in every way the encoding memo must notice (see test_encoding_memo.py).

Each function keeps a local alive across several lines while changing what it shows: in
place, deep inside, by replacing it with an equal or a different object, by reordering or
removing fields, by changing its class. Deterministic: no addresses or times in values.
"""


class Node:
    def __init__(self, name, children=()):
        self.name = name
        self.children = list(children)
        self.meta = {"size": len(self.children), "tags": ("a", "b")}


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y


class Account:
    def __init__(self, owner, pin):
        self.owner = owner
        self.pin = pin
        self.balance = 0


class Other:
    pass


class BigInt(int):
    pass


def nested_in_place():
    root = Node("root", [Node("a"), Node("b", [Node("c")])])
    root.meta["size"] = 3
    root.children[1].children[0].name = "c2"
    root.children[1].meta["tags"] = ("x",)
    root.children.append(Node("d"))
    root.children[0] = Node("a")
    root.children[0].name = "a" * 2000
    root.children[0].name = "short"
    return root.meta


def fields_come_and_go():
    obj = Node("n")
    obj.extra = 1
    del obj.meta
    obj.meta = {"size": 0}
    obj.__class__ = Other
    obj.__class__ = Node
    for i in range(20):
        setattr(obj, f"f{i}", i)
    obj.f3 = "changed"
    del obj.f0
    return obj.name


def containers():
    grid = [[0] * 3 for _ in range(3)]
    for i in range(3):
        grid[i][i] = i + 1
    lookup = {("k", 1): [1, 2], ("k", 2): {"deep": [1, [2, [3, [4]]]]}}
    lookup[("k", 2)]["deep"][1][1][1].append(5)
    lookup[("k", 1)].append(BigInt(7))
    lookup[("k", 1)].pop()
    long = list(range(40))
    long[30] = "hidden past the cap"
    long[3] = "shown"
    del long[20:]
    del long[5:]
    bag = {1, 2, 3}
    bag.add(4)
    pair = (grid, lookup)
    grid[0][0] = 9.5
    return pair, bag


def cycles():
    a = [1]
    a.append(a)
    b = {"self": None}
    b["self"] = b
    parent = Node("p")
    child = Node("c")
    parent.children.append(child)
    child.parent = parent
    child.name = "c2"
    a[0] = 2
    return len(a), len(b)


def opaque_and_slots():
    s = Slotted(1, [2])
    s.y.append(3)
    s.x = "one"
    holder = Node("h", [s, len, Node, Slotted])
    holder.children.append(s)
    return holder.name


def secrets():
    acct = Account("ada", "1234")
    acct.balance = 10
    acct.pin = "9999"
    acct.owner = "bob"
    accounts = [acct, Account("cy", "0000")]
    accounts[1].balance += 5
    return len(accounts)


def equal_replacements():
    point = (1, 2)
    for _ in range(3):
        point = (1, 2)
    items = [Node("x")]
    for _ in range(3):
        items = [Node("x")]
    text = "abc"
    for i in range(3):
        text = "abc" + str(i)
    return point, text


def main():
    nested_in_place()
    fields_come_and_go()
    containers()
    cycles()
    opaque_and_slots()
    secrets()
    equal_replacements()
    print("memo cases done")


if __name__ == "__main__":
    main()
