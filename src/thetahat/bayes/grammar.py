"""Priors written as text: ``"p=beta(1,1)"``, parsed by a small grammar (never ``eval``).

Grammar::

    spec   := item (SEP item)* [SEP]
    item   := NAME '=' DIST '(' NUMBER (',' NUMBER)* ')'
    SEP    := ';' | ','
    NAME   := [A-Za-z_][A-Za-z0-9_]*
    NUMBER := [+-]? (digits [. digits] | . digits) [(e|E) [+-] digits]

A regular expression splits the text into tokens and a recursive-descent
parser reads them; anything else (an unknown character, a missing
parenthesis, an unknown distribution, a wrong number of arguments) is a
DataError that quotes the offending text and its position.
"""

from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple

from thetahat.bayes.priors import (
    Beta,
    Dirichlet,
    Gamma,
    HalfNormal,
    InverseGamma,
    LogNormal,
    Normal,
    Prior,
    Uniform,
)
from thetahat.errors import DataError

__all__ = ["parse_prior", "DISTRIBUTIONS"]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[=(),;])
    """,
    re.VERBOSE,
)


def _two(cls: Callable[..., Prior]) -> tuple[int | None, Callable[[list[float]], Prior]]:
    return 2, lambda a: cls(*a)


#: Distribution name (lower case) -> (number of arguments or None for "2 or more", constructor).
DISTRIBUTIONS: dict[str, tuple[int | None, Callable[[list[float]], Prior]]] = {
    "beta": _two(Beta),
    "gamma": _two(Gamma),
    "normal": _two(Normal),
    "lognormal": _two(LogNormal),
    "uniform": _two(Uniform),
    "inverse_gamma": _two(InverseGamma),
    "invgamma": _two(InverseGamma),
    "inverse_gamma_sq": (2, lambda a: InverseGamma(a[0], a[1], squared=True)),
    "invgamma_sq": (2, lambda a: InverseGamma(a[0], a[1], squared=True)),
    "half_normal": (1, lambda a: HalfNormal(a[0])),
    "halfnormal": (1, lambda a: HalfNormal(a[0])),
    "dirichlet": (None, lambda a: Dirichlet(tuple(a))),
}


class _Token(NamedTuple):
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise DataError(
                f"cannot parse prior {text!r}: unexpected character {text[pos]!r} at position "
                f"{pos} (in {text[pos:pos + 12]!r}). Write priors as NAME=DIST(NUMBERS), "
                "e.g. 'p=beta(1,1); rate=gamma(2,1)'."
            )
        kind = m.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, m.group(), pos))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _fail(self, expected: str) -> DataError:
        tok = self._peek()
        found = f"{tok.text!r} at position {tok.pos}" if tok else "the end of the text"
        start = tok.pos if tok else len(self.text)
        context = self.text[max(0, start - 10) : start + 10]
        return DataError(
            f"cannot parse prior {self.text!r}: expected {expected}, found {found} "
            f"(near {context!r}). Write priors as NAME=DIST(NUMBERS), e.g. 'p=beta(1,1)'."
        )

    def _take(self, kind: str, text: str | None = None, expected: str = "") -> _Token:
        tok = self._peek()
        if tok is None or tok.kind != kind or (text is not None and tok.text != text):
            raise self._fail(expected or (repr(text) if text else kind))
        self.i += 1
        return tok

    def spec(self) -> dict[str, Prior]:
        if not self.tokens:
            raise DataError(f"empty prior specification {self.text!r}; write e.g. 'p=beta(1,1)'.")
        out: dict[str, Prior] = {}
        while True:
            name, prior = self.item()
            if name in out:
                raise DataError(f"cannot parse prior {self.text!r}: parameter {name!r} is given twice.")
            out[name] = prior
            tok = self._peek()
            if tok is None:
                return out
            if tok.kind != "punct" or tok.text not in ";,":
                raise self._fail("';' or ',' between priors")
            self.i += 1
            if self._peek() is None:
                return out

    def item(self) -> tuple[str, Prior]:
        name = self._take("name", expected="a parameter name").text
        self._take("punct", "=", expected=f"'=' after {name!r}")
        dist_tok = self._take("name", expected=f"a distribution name after '{name}='")
        dist = dist_tok.text.lower()
        if dist not in DISTRIBUTIONS:
            raise DataError(
                f"cannot parse prior {self.text!r}: unknown distribution {dist_tok.text!r} at "
                f"position {dist_tok.pos}; choose one of {sorted(DISTRIBUTIONS)}."
            )
        self._take("punct", "(", expected=f"'(' after {dist_tok.text!r}")
        args = [float(self._take("number", expected=f"a number in {dist_tok.text}(...)").text)]
        while (tok := self._peek()) is not None and tok.text == ",":
            self.i += 1
            args.append(float(self._take("number", expected=f"a number after ',' in {dist_tok.text}(...)").text))
        self._take("punct", ")", expected=f"')' or ',' in {dist_tok.text}(...)")
        arity, build = DISTRIBUTIONS[dist]
        if (arity is not None and len(args) != arity) or (arity is None and len(args) < 2):
            want = f"{arity}" if arity is not None else "at least 2"
            raise DataError(
                f"cannot parse prior {self.text!r}: {dist}() takes {want} number(s), got "
                f"{len(args)} in '{name}={dist_tok.text}(...)'."
            )
        try:
            return name, build(args)
        except DataError as err:
            raise DataError(f"invalid prior for {name!r} in {self.text!r}: {err}") from None


def parse_prior(text: str) -> dict[str, Any]:
    """Parse ``"NAME=DIST(NUMBERS)"`` items separated by ';' or ',' into a prior dict.

    Parameters
    ----------
    text : str
        E.g. ``"p=beta(1,1)"`` or ``"shape=gamma(2, 1); rate=lognormal(0, 1)"``.
        Distributions: beta(a, b), gamma(shape, rate), normal(mu, sigma),
        lognormal(mu, sigma), uniform(low, high), inverse_gamma(shape, scale),
        inverse_gamma_sq(shape, scale) (inverse gamma on the parameter's
        square, e.g. the normal variance), half_normal(sigma),
        dirichlet(alpha_1, ..., alpha_k); names are case-insensitive.

    Returns
    -------
    dict
        Parameter name -> :class:`~thetahat.bayes.Prior`, ready for
        ``thetahat.fit(..., prior=...)`` or ``thetahat.posterior(..., prior=...)``.

    Raises
    ------
    DataError
        On any text outside the grammar, naming the offending text.

    Notes
    -----
    The text is tokenised by one regular expression and read by a
    recursive-descent parser; it is never evaluated as Python.

    Examples
    --------
    >>> from thetahat.bayes import parse_prior
    >>> parse_prior("p=beta(1,1)")
    {'p': Beta(a=1.0, b=1.0)}
    >>> parse_prior("shape = gamma(2, 0.5), rate = half_normal(1e1)")
    {'shape': Gamma(shape=2.0, rate=0.5), 'rate': HalfNormal(sigma=10.0)}
    """
    if not isinstance(text, str):
        raise DataError(f"prior specification must be a string; got {type(text).__name__}.")
    return _Parser(text).spec()
