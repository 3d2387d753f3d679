"""Generate ``FIX44-bidgw.xml``: QuickFIX's FIX44.xml plus bidgw's additions.

Run ``python -m fixspec.build`` after changing the declarations below; the
test suite fails while the committed XML differs from what this produces.
The base is the FIX44.xml installed with the quickfix package
(``<prefix>/share/quickfix/FIX44.xml``).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from fixspec import DICTIONARY, Tag

__all__ = ["COMPONENTS", "FIELDS", "MESSAGE_ADDITIONS", "build", "main"]


@dataclass(frozen=True)
class FieldDef:
    number: int
    name: str
    type: str
    description: str
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Member:
    """A field, component or group inside a message, component or group."""

    kind: str  # "field" | "component" | "group"
    name: str
    required: bool
    members: tuple[Member, ...] = field(default=())


def _f(name: str, required: bool) -> Member:
    return Member("field", name, required)


def _c(name: str, required: bool) -> Member:
    return Member("component", name, required)


FIELDS: tuple[FieldDef, ...] = (
    FieldDef(
        Tag.MIN_PRICE_INCREMENT,
        "MinPriceIncrement",
        "FLOAT",
        "The instrument's tick: a limit price must be a multiple of it (standard tag, FIX 5.0).",
    ),
    FieldDef(
        Tag.NO_STRATEGY_PARAMETERS,
        "NoStrategyParameters",
        "NUMINGROUP",
        "Number of strategy parameters that follow (standard tag, FIX 4.4 EP / 5.0).",
    ),
    FieldDef(
        Tag.STRATEGY_PARAMETER_NAME,
        "StrategyParameterName",
        "STRING",
        "Name of a bidder-data value, e.g. target_hedge_ratio or hedge_qty_coeff.",
    ),
    FieldDef(
        Tag.STRATEGY_PARAMETER_TYPE,
        "StrategyParameterType",
        "INT",
        "How to read StrategyParameterValue.",
        (
            ("1", "INT"),
            ("6", "FLOAT"),
            ("7", "QTY"),
            ("8", "PRICE"),
            ("10", "AMT"),
            ("11", "PERCENTAGE"),
            ("13", "BOOLEAN"),
            ("14", "STRING"),
        ),
    ),
    FieldDef(
        Tag.STRATEGY_PARAMETER_VALUE,
        "StrategyParameterValue",
        "STRING",
        "The value as text; decimals are exact (no binary floating point).",
    ),
    FieldDef(
        Tag.LIST_REJECT_REASON,
        "ListRejectReason",
        "INT",
        "Why a list was rejected (standard tag from FIX 5.0).",
        (
            ("0", "BROKER_OPTION"),
            ("2", "EXCHANGE_CLOSED"),
            ("4", "TOO_LATE_TO_ENTER"),
            ("5", "UNKNOWN_ORDER"),
            ("6", "DUPLICATE_ORDER"),
            ("11", "UNSUPPORTED_ORDER_CHARACTERISTIC"),
            ("99", "OTHER"),
        ),
    ),
    FieldDef(
        Tag.BIDDER_TYPE,
        "BidderType",
        "STRING",
        "The bidder type: the name of the strategy that compiles the payload.",
    ),
    FieldDef(
        Tag.LOT_SIZE,
        "LotSize",
        "INT",
        "List-level lot size for every order without its own RoundLot (561).",
    ),
    FieldDef(
        Tag.BUNDLE_ID,
        "BundleID",
        "STRING",
        "The gateway's id for an accepted bundle (the ListID it uses downstream).",
    ),
    FieldDef(
        Tag.NO_BUNDLE_CONSTRAINTS,
        "NoBundleConstraints",
        "NUMINGROUP",
        "Number of linear constraints over the orders' fill quantities.",
    ),
    FieldDef(Tag.CONSTRAINT_NAME, "ConstraintName", "STRING", "Name of the constraint."),
    FieldDef(
        Tag.CONSTRAINT_SENSE,
        "ConstraintSense",
        "CHAR",
        "Relation of Σ coefficient·fill_qty to ConstraintRHS.",
        (("L", "LESS_OR_EQUAL"), ("E", "EQUAL"), ("G", "GREATER_OR_EQUAL")),
    ),
    FieldDef(
        Tag.CONSTRAINT_RHS,
        "ConstraintRHS",
        "FLOAT",
        "Right-hand side of the constraint (exact decimal).",
    ),
    FieldDef(
        Tag.NO_CONSTRAINT_TERMS,
        "NoConstraintTerms",
        "NUMINGROUP",
        "Number of non-zero terms of the constraint.",
    ),
    FieldDef(
        Tag.TERM_LIST_SEQ_NO,
        "TermListSeqNo",
        "INT",
        "ListSeqNo (67) of the order this term applies to.",
    ),
    FieldDef(
        Tag.TERM_COEFFICIENT,
        "TermCoefficient",
        "FLOAT",
        "Coefficient of that order's fill quantity (exact decimal).",
    ),
    FieldDef(
        Tag.MIN_TOTAL_FILL,
        "MinTotalFill",
        "QTY",
        "A non-empty fill of the bundle must total at least this quantity.",
    ),
    FieldDef(
        Tag.CONSTRAINT_TEXT,
        "ConstraintText",
        "STRING",
        "What the constraint means, in words (informational).",
    ),
    FieldDef(
        Tag.NO_PRICE_CONSTRAINTS,
        "NoPriceConstraints",
        "NUMINGROUP",
        "Number of linear constraints over the clearing prices of the bundle's symbols, "
        "binding only in an auction where the bundle fills.",
    ),
    FieldDef(Tag.PRICE_CONSTRAINT_NAME, "PriceConstraintName", "STRING", "Its name."),
    FieldDef(
        Tag.PRICE_CONSTRAINT_SENSE,
        "PriceConstraintSense",
        "CHAR",
        "Relation of Σ coefficient·clearing_price to PriceConstraintRHS.",
        (("L", "LESS_OR_EQUAL"), ("E", "EQUAL"), ("G", "GREATER_OR_EQUAL")),
    ),
    FieldDef(Tag.PRICE_CONSTRAINT_RHS, "PriceConstraintRHS", "FLOAT", "Right-hand side (exact)."),
    FieldDef(Tag.NO_PRICE_TERMS, "NoPriceTerms", "NUMINGROUP", "Number of its terms."),
    FieldDef(
        Tag.PRICE_TERM_SYMBOL,
        "PriceTermSymbol",
        "STRING",
        "The symbol whose clearing price the term multiplies (one of the orders').",
    ),
    FieldDef(
        Tag.PRICE_TERM_COEFFICIENT,
        "PriceTermCoefficient",
        "FLOAT",
        "Coefficient of that symbol's clearing price (exact decimal).",
    ),
    FieldDef(
        Tag.PRICE_CONSTRAINT_TEXT,
        "PriceConstraintText",
        "STRING",
        "What the price constraint means, in words (informational).",
    ),
)

_STRATEGY_GROUP = Member(
    "group",
    "NoStrategyParameters",
    False,
    (
        _f("StrategyParameterName", True),
        _f("StrategyParameterType", True),
        _f("StrategyParameterValue", True),
    ),
)

_CONSTRAINT_GROUP = Member(
    "group",
    "NoBundleConstraints",
    False,
    (
        _f("ConstraintName", True),
        _f("ConstraintSense", True),
        _f("ConstraintRHS", True),
        Member(
            "group",
            "NoConstraintTerms",
            True,
            (
                _f("TermListSeqNo", True),
                _f("TermCoefficient", True),
            ),
        ),
        _f("ConstraintText", False),  # after the terms: dictionary order = tag order
    ),
)

_PRICE_CONSTRAINT_GROUP = Member(
    "group",
    "NoPriceConstraints",
    False,
    (
        _f("PriceConstraintName", True),
        _f("PriceConstraintSense", True),
        _f("PriceConstraintRHS", True),
        Member(
            "group",
            "NoPriceTerms",
            True,
            (
                _f("PriceTermSymbol", True),
                _f("PriceTermCoefficient", True),
            ),
        ),
        _f("PriceConstraintText", False),
    ),
)

COMPONENTS: dict[str, tuple[Member, ...]] = {
    "StrategyParametersGrp": (_STRATEGY_GROUP,),
    "BundleConstraintsGrp": (_CONSTRAINT_GROUP,),
    "PriceConstraintsGrp": (_PRICE_CONSTRAINT_GROUP,),
}

#: Members appended to existing messages (by MsgType) or to the NoOrders group of a
#: component (``component:Name``).
MESSAGE_ADDITIONS: dict[str, tuple[Member, ...]] = {
    "E": (  # NewOrderList
        _f("BidderType", True),
        _f("LotSize", False),
        _f("BundleID", False),
        _f("MinTotalFill", False),
        _c("StrategyParametersGrp", False),
        _c("BundleConstraintsGrp", False),
        _c("PriceConstraintsGrp", False),
    ),
    "component:ListOrdGrp": (
        _f("RoundLot", False),
        _c("StrategyParametersGrp", False),
    ),
    "component:SecListGrp": (  # SecurityList's instruments: the tick and reference market
        _f("MinPriceIncrement", False),
        _f("BidPx", False),
        _f("OfferPx", False),
        _f("SecurityTradingStatus", False),
    ),
    "N": (  # ListStatus
        _f("BundleID", False),
        _f("ListRejectReason", False),
    ),
    "8": (  # ExecutionReport
        _f("BundleID", False),
    ),
}


def _element(member: Member) -> ET.Element:
    element = ET.Element(member.kind, name=member.name, required="Y" if member.required else "N")
    for child in member.members:
        element.append(_element(child))
    return element


def _indent(element: ET.Element) -> None:
    ET.indent(element, space=" ")


def build(base: Path) -> str:
    """The patched dictionary as XML text."""
    tree = ET.parse(base)
    root = tree.getroot()
    fields = root.find("fields")
    messages = root.find("messages")
    components = root.find("components")
    assert fields is not None
    assert messages is not None
    assert components is not None
    existing = {f.get("name") for f in fields}
    for definition in FIELDS:
        if definition.name in existing:
            raise SystemExit(f"{definition.name} already exists in {base}")
        element = ET.SubElement(
            fields,
            "field",
            number=str(definition.number),
            name=definition.name,
            type=definition.type,
        )
        for enum, description in definition.values:
            ET.SubElement(element, "value", enum=enum, description=description)
    for name, members in COMPONENTS.items():
        component = ET.SubElement(components, "component", name=name)
        for member in members:
            component.append(_element(member))
    for key, members in MESSAGE_ADDITIONS.items():
        if key.startswith("component:"):
            target = components.find(f"component[@name='{key.split(':', 1)[1]}']/group")
        else:
            target = messages.find(f"message[@msgtype='{key}']")
        if target is None:
            raise SystemExit(f"no {key} in {base}")
        for member in members:
            target.append(_element(member))
    _indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def base_dictionary() -> Path:
    """FIX44.xml as installed by the quickfix package."""
    path = Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml"
    if not path.exists():
        raise SystemExit(f"{path} not found: install quickfix==1.16.0 in this environment")
    return path


def main() -> None:
    DICTIONARY.write_text(build(base_dictionary()), encoding="utf-8")
    print(f"wrote {DICTIONARY}")


if __name__ == "__main__":
    main()
