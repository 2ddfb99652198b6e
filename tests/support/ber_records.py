"""Hand-built TS 32.298 CS records (an MO call, a partial MT call) and the BER pieces they are made of."""

UTC_0400 = 1_795_665_600_000  # 2026-11-26 04:00:00 UTC = 09:30:00 at +05:30


def tlv(tag: str, content: bytes) -> bytes:
    """Short-form BER TLV (content < 128 octets) with a tag given in hex."""
    assert len(content) < 128
    return bytes.fromhex(tag) + bytes([len(content)]) + content


def ts(local: str, offset: str = "+0530") -> bytes:
    """32.298 TimeStamp from 'YYMMDDhhmmss' and '+hhmm': BCD digits, ASCII sign, BCD offset."""
    return bytes.fromhex(local) + offset[0].encode() + bytes.fromhex(offset[1:])


LOCATION = tlv("80", b"\x12\x34") + tlv("81", b"\x56\x78") + tlv("82", bytes.fromhex("04f454"))
IMSI = bytes.fromhex("04441532547698f0")  # 404451234567890
IMEI = bytes.fromhex("94104502237315f0")  # 49015420323751 + spare 0 + filler
MSISDN = bytes.fromhex("91198921436587")  # +919812345678
B_NUMBER = bytes.fromhex("914151550501f0")  # +14155550100
MSC = bytes.fromhex("91198900000010")  # +919800000001

# MOCallRecord ([0] IMPLICIT SET) answered at +05:30: seizure 09:30:00, answer 09:30:05, release 09:31:05.
MO_CALL = tlv(
    "a0",
    tlv("80", b"\x00")  # recordType moCallRecord
    + tlv("81", IMSI)  # servedIMSI
    + tlv("82", IMEI)  # servedIMEI
    + tlv("83", MSISDN)  # servedMSISDN
    + tlv("85", B_NUMBER)  # calledNumber
    + tlv("89", MSC)  # recordingEntity
    + tlv("ac", LOCATION)  # location [12]
    + tlv("96", ts("261126093000"))  # seizureTime [22]
    + tlv("97", ts("261126093005"))  # answerTime [23]
    + tlv("98", ts("261126093105"))  # releaseTime [24]
    + tlv("99", b"\x3c")  # callDuration [25] = 60 s chargeable
    + tlv("9e", b"\x00")  # causeForTerm [30] normalRelease
    + tlv("9f20", bytes.fromhex("0a1b2c3d"))  # callReference [32]
    + tlv("9f3d", b"\x02"),  # systemType [61] gERAN
)

# MTCallRecord ([1]) partial: sequenceNumber 2, causeForTerm partialRecord, no answer time yet.
MT_PARTIAL = tlv(
    "a1",
    tlv("80", b"\x01")
    + tlv("81", IMSI)
    + tlv("83", MSISDN)  # servedMSISDN (the called party)
    + tlv("84", B_NUMBER)  # callingNumber
    + tlv("86", MSC)
    + tlv("a9", LOCATION)  # location [9]
    + tlv("93", ts("261126093000"))  # seizureTime [19]
    + tlv("95", ts("261126094000"))  # releaseTime [21]
    + tlv("96", b"\x02\x58")  # callDuration [22] = 600 s holding time
    + tlv("9b", b"\x01")  # causeForTerm [27] partialRecord
    + tlv("9d", b"\x77")  # callReference [29]
    + tlv("9e", b"\x02"),  # sequenceNumber [30]
)
