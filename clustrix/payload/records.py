"""``FrozenRecord``: what a frozen dataclass gives, without importing :mod:`dataclasses`.

The job-side runner starts once per job, and ``import dataclasses`` costs about 13 ms there
(it pulls in :mod:`inspect`, :mod:`ast`, :mod:`dis`, :mod:`tokenize`...). The few value types the
runner touches (``Call``, ``ResultEnvelope`` and the opened payloads) derive from this class
instead: slots, keyword or positional construction, ``==``, ``hash``, a dataclass-style ``repr``,
``FrozenInstanceError`` on assignment, and pickling as ``Class(*field_values)`` — which also
unpickles with the constructor of an older release where these classes were dataclasses.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not ``from typing import ...``: typing costs ~5 ms per job start
if TYPE_CHECKING:
    from typing import Any


class FrozenRecord:
    """Base class: subclasses list their fields in ``__slots__`` and set them in ``__init__``.

    ``__init__`` must assign with ``object.__setattr__`` (as frozen dataclasses do internally);
    ``_repr_hidden`` names fields left out of ``repr`` (large blobs).
    """

    __slots__ = ()
    _repr_hidden: frozenset[str] = frozenset()

    def _field_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        from dataclasses import FrozenInstanceError  # only on misuse

        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        from dataclasses import FrozenInstanceError

        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._field_values() == other._field_values()  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._field_values())

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name not in self._repr_hidden
        )
        return f"{type(self).__qualname__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._field_values())

    def __setstate__(self, state: Any) -> None:
        """Accept the state of a pickle made when the class was a dataclass (a field dict)."""
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise TypeError(f"cannot restore a {type(self).__name__} from {type(state).__name__}")
        for name, value in state.items():
            object.__setattr__(self, name, value)
