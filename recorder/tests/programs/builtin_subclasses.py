"""Subclasses of every builtin the recorder reads, each method logging that it ran.

Recorded, the program must print exactly what it prints unrecorded: the recorder reads values
through C-level accessors and never runs these methods.
"""
calls = []


def logged(base, *names):
    def make(name):
        def method(self, *args, **kwargs):
            calls.append(f"{base.__name__}.{name}")
            return getattr(base, name)(self, *args, **kwargs)
        return method

    return type("My" + base.__name__.capitalize(), (base,),
                {name: make(name) for name in names})


COMMON = ("__repr__", "__str__", "__format__", "__getattribute__", "__eq__", "__hash__")
values = [
    logged(set, "__iter__", "__len__", "__contains__", *COMMON)({1, 2}),
    logged(frozenset, "__iter__", "__len__", *COMMON)({3}),
    logged(list, "__iter__", "__len__", "__getitem__", *COMMON)([1, 2]),
    logged(tuple, "__iter__", "__len__", "__getitem__", *COMMON)((1, 2)),
    logged(dict, "__iter__", "__len__", "__getitem__", "items", "keys", "values", *COMMON)(a=1),
    logged(int, "__index__", "__int__", "__repr__", "__str__", "__format__")(2 ** 80),
    logged(int, "__index__", "__int__", "__repr__", "__str__")(7),
    logged(float, "__float__", "__repr__", "__str__", "__format__")(2.5),
    logged(str, "__str__", "__repr__", "__len__", "__iter__", "__getitem__", "__format__")("hi"),
    logged(bytes, "__bytes__", "__repr__", "__len__", "__getitem__", "__iter__")(b"ab"),
]
named = {"inner": values[0], "pair": (values[2], values[4])}
checkpoint = len(values)
print(calls)
