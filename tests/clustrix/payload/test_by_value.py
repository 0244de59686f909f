"""Job-side loading of by-value functions without cloudpickle (clustrix.payload.by_value).

Each function shape is pickled by the real cloudpickle, then rebuilt twice: by cloudpickle's own
reconstructors (plain ``pickle.loads``) and by clustrix's. The two must agree on every attribute
a function has and on what it returns. In this process cloudpickle is imported, so the tests use
the unpickler directly; ``test_runner_imports`` checks, in a real job process, that cloudpickle is
then never imported.
"""

from __future__ import annotations

import collections
import enum
import functools
import inspect
import math
import os.path
import pickle
import sys

import cloudpickle
import pytest

from clustrix.payload import by_value

GLOBAL_OFFSET = 3


def by_value_load(data: bytes):
    """clustrix's reconstructors, whether or not cloudpickle is loaded in this process."""
    return by_value._ByValueUnpickler(by_value._ViewReader(data)).load()


def _closure():
    count = [10]

    def inner(x):
        count[0] += x
        return count[0] + GLOBAL_OFFSET

    return inner


def _recursive():
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)

    return fact


def _with_empty_cell():
    filled = 5

    def inner():
        return filled + later

    if False:  # ``later`` is a cell of ``inner`` that is still empty when it is pickled
        later = 1
    return inner


def _annotated(a: int, b: str = "x", *args: float, c: bool = True, **kw: object) -> str:
    """A docstring."""
    return f"{a}{b}{args}{c}{sorted(kw)}"


_annotated.custom = {"k": 1}


def _submodule_user(p):
    return os.path.join("a", p)


def _module_global_user(x):
    return math.sqrt(x) + collections.Counter("aab")["a"]


SHAPES = {
    "lambda": (lambda x: x * 2, (21,)),
    "closure": (_closure(), (5,)),
    "recursive": (_recursive(), (5,)),
    "annotated": (_annotated, (1,)),
    "submodule": (_submodule_user, ("b",)),
    "module_global": (_module_global_user, (16,)),
    "partial_of_lambda": (functools.partial(lambda a, b: a - b, 10), (4,)),
    "generator": ((lambda n: (i * i for i in range(n))), (4,)),
}


@pytest.fixture(autouse=True)
def _this_module_by_value():
    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        cloudpickle.unregister_pickle_by_value(module)


def _attributes(fn):
    if isinstance(fn, functools.partial):
        return ("partial", fn.args, fn.keywords, _attributes(fn.func))
    return {
        "code": fn.__code__,
        "name": fn.__name__,
        "qualname": fn.__qualname__,
        "module": fn.__module__,
        "doc": fn.__doc__,
        "defaults": fn.__defaults__,
        "kwdefaults": fn.__kwdefaults__,
        "annotations": fn.__annotations__,
        "dict": {k: v for k, v in fn.__dict__.items()},
        "globals": sorted(k for k in fn.__globals__ if k != "__builtins__"),
        "builtins_is_dict": fn.__globals__["__builtins__"] is __builtins__ or isinstance(fn.__globals__["__builtins__"], dict),
        "closure_len": None if fn.__closure__ is None else len(fn.__closure__),
        "signature": str(inspect.signature(fn)),
    }


def _result(fn, args):
    value = fn(*args)
    return list(value) if inspect.isgenerator(value) else value


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_rebuilt_function_matches_cloudpickles_own(shape):
    fn, args = SHAPES[shape]
    data = cloudpickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
    assert b"cloudpickle" in data and b"_make_function" in data  # it really travelled by value
    theirs, ours = pickle.loads(data), by_value_load(data)
    assert _attributes(ours) == _attributes(theirs)
    assert _result(ours, args) == _result(theirs, args)


def test_empty_cells_stay_empty_and_named_cells_fill():
    data = cloudpickle.dumps(_with_empty_cell(), protocol=pickle.HIGHEST_PROTOCOL)
    for fn in (pickle.loads(data), by_value_load(data)):
        assert fn.__code__.co_freevars == ("filled", "later")
        assert fn.__closure__[0].cell_contents == 5
        with pytest.raises(ValueError, match="empty"):
            fn.__closure__[1].cell_contents  # noqa: B018 - reading an empty cell raises
        with pytest.raises(NameError, match="later"):
            fn()


def test_functions_pickled_together_share_their_globals():
    """cloudpickle gives functions pickled in one call one globals dict; a global one of them
    assigns is seen by the other."""
    ns = {}
    exec("counter = 0\ndef bump():\n    global counter\n    counter += 1\n    return counter\n"
         "def read():\n    return counter\n", ns)
    bump, read = ns["bump"], ns["read"]
    bump.__module__ = read.__module__ = "__main__"
    ours_bump, ours_read = by_value_load(cloudpickle.dumps((bump, read), protocol=pickle.HIGHEST_PROTOCOL))
    assert ours_bump.__globals__ is ours_read.__globals__
    ours_bump(), ours_bump()
    assert ours_read() == 2


def test_classes_defined_by_value_are_left_to_cloudpickle():
    """Names this module does not answer come from the real cloudpickle, mixed in one stream."""

    class Point:
        def __init__(self, x):
            self.x = x

        def norm(self):
            return abs(self.x) + GLOBAL_OFFSET

    class Colour(enum.Enum):
        RED = 1

    data = cloudpickle.dumps((Point, Colour, lambda p: p.norm()), protocol=pickle.HIGHEST_PROTOCOL)
    point_cls, colour, fn = by_value_load(data)
    assert fn(point_cls(-4)) == 7
    assert colour.RED.value == 1 and colour(1) is colour.RED
    # The methods were rebuilt by clustrix's reconstructors, the class by cloudpickle's.
    assert point_cls.norm.__globals__["GLOBAL_OFFSET"] == GLOBAL_OFFSET


def test_reader_gives_the_unpickler_what_bytesio_would():
    payload = {"big": b"x" * 200_000, "text": "é" * 1000, "nested": [list(range(50))] * 3}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):  # protocol 0 reads lines
        data = pickle.dumps(payload, protocol=protocol)
        assert by_value_load(data) == payload
        assert by_value_load(memoryview(data)) == payload


def test_loads_uses_plain_pickle_once_cloudpickle_is_loaded(monkeypatch):
    assert "cloudpickle" in sys.modules
    seen = []
    monkeypatch.setattr(by_value, "_pickle_loads", lambda data: seen.append(data) or "plain")
    assert by_value.loads(b"anything") == "plain" and seen == [b"anything"]


def test_the_installed_cloudpickle_still_has_these_reconstructors():
    """A cloudpickle release that renames or re-shapes a reconstructor must fail here, so the
    copy in by_value is reviewed against it, rather than silently diverge in jobs."""
    from cloudpickle import cloudpickle as real

    for name, ours in by_value._RECONSTRUCTORS.items():
        theirs = getattr(real, name)
        if callable(ours) and not isinstance(ours, by_value._EmptyCell):
            assert list(inspect.signature(theirs).parameters) == list(inspect.signature(ours).parameters), name
    # The empty-cell sentinel is pickled by name, so it must keep that name.
    assert pickle.loads(pickle.dumps(real._empty_cell_value)) is real._empty_cell_value
    assert type(real._empty_cell_value).__reduce__() == "_empty_cell_value"
