"""bidgw's FIX 4.4 data dictionary and the tag numbers the code uses.

``FIX44-bidgw.xml`` beside this file is QuickFIX's FIX44.xml plus the
additions declared in :mod:`fixspec.build` (run ``python -m fixspec.build``
to regenerate it; a test keeps the committed file in sync). Every bidgw
session loads it with ``UseDataDictionary=Y``. ``README.md`` beside it is the
specification for a counterparty's FIX engineer.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DICTIONARY", "Tag"]

#: The data dictionary every session loads.
DICTIONARY: Path = Path(__file__).with_name("FIX44-bidgw.xml")


class Tag:
    """Tag numbers: standard FIX first, then bidgw's own (bilateral range 20000-39999)."""

    # standard FIX 4.4
    AVG_PX = 6
    CL_ORD_ID = 11
    CUM_QTY = 14
    EXEC_ID = 17
    LAST_PX = 31
    LAST_QTY = 32
    MSG_SEQ_NUM = 34
    MSG_TYPE = 35
    ORDER_ID = 37
    ORDER_QTY = 38
    ORD_STATUS = 39
    ORD_TYPE = 40
    POSS_DUP_FLAG = 43
    PRICE = 44
    REF_SEQ_NUM = 45
    SENDING_TIME = 52
    SIDE = 54
    SYMBOL = 55
    TEXT = 58
    TIME_IN_FORCE = 59
    TRANSACT_TIME = 60
    LIST_ID = 66
    LIST_SEQ_NO = 67
    TOT_NO_ORDERS = 68
    NO_ORDERS = 73
    POSS_RESEND = 97
    ORD_REJ_REASON = 103
    EXPIRE_TIME = 126
    ON_BEHALF_OF_COMP_ID = 115
    DELIVER_TO_COMP_ID = 128
    SENDER_SUB_ID = 50
    TARGET_SUB_ID = 57
    ORIG_SENDING_TIME = 122
    EXEC_RESTATEMENT_REASON = 378
    EXEC_TYPE = 150
    LEAVES_QTY = 151
    BUSINESS_REJECT_REASON = 380
    BUSINESS_REJECT_REF_ID = 379
    REF_TAG_ID = 371
    REF_MSG_TYPE = 372
    SESSION_REJECT_REASON = 373
    BID_TYPE = 394
    LIST_STATUS_TYPE = 429
    LIST_ORDER_STATUS = 431
    LIST_STATUS_TEXT = 444
    NO_RPTS = 82
    RPT_SEQ = 83
    CXL_QTY = 84
    USERNAME = 553
    PASSWORD = 554
    RESET_SEQ_NUM_FLAG = 141
    ROUND_LOT = 561
    BID_PX = 132
    OFFER_PX = 133
    NO_RELATED_SYM = 146
    SUBSCRIPTION_REQUEST_TYPE = 263
    SECURITY_REQ_ID = 320
    SECURITY_RESPONSE_ID = 322
    SECURITY_TRADING_STATUS = 326
    TOT_NO_RELATED_SYM = 393
    PARTY_ID_SOURCE = 447
    PARTY_ID = 448
    PARTY_ROLE = 452
    NO_PARTY_IDS = 453
    SECURITY_LIST_REQUEST_TYPE = 559
    SECURITY_REQUEST_RESULT = 560
    LAST_FRAGMENT = 893
    # standard, from later FIX versions, added to our FIX 4.4 dictionary
    NO_STRATEGY_PARAMETERS = 957
    STRATEGY_PARAMETER_NAME = 958
    STRATEGY_PARAMETER_TYPE = 959
    STRATEGY_PARAMETER_VALUE = 960
    LIST_REJECT_REASON = 1386
    MIN_PRICE_INCREMENT = 969
    # bidgw's own
    BIDDER_TYPE = 20001
    LOT_SIZE = 20002
    BUNDLE_ID = 20003
    NO_BUNDLE_CONSTRAINTS = 20010
    CONSTRAINT_NAME = 20011
    CONSTRAINT_SENSE = 20012
    CONSTRAINT_RHS = 20013
    NO_CONSTRAINT_TERMS = 20014
    TERM_LIST_SEQ_NO = 20015
    TERM_COEFFICIENT = 20016
    MIN_TOTAL_FILL = 20017
    CONSTRAINT_TEXT = 20018
    NO_PRICE_CONSTRAINTS = 20020
    PRICE_CONSTRAINT_NAME = 20021
    PRICE_CONSTRAINT_SENSE = 20022
    PRICE_CONSTRAINT_RHS = 20023
    NO_PRICE_TERMS = 20024
    PRICE_TERM_SYMBOL = 20025
    PRICE_TERM_COEFFICIENT = 20026
    PRICE_CONSTRAINT_TEXT = 20027
