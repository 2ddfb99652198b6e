"""3GPP TS 32.298 ASN.1 BER CDRs (bare or in TS 32.297 file chunks) as a pipeline input format.

Importing this package is cheap: pycrate is imported by the first decode_ber call only.
"""

from pipeline.ber.decoder import decode_ber, looks_like_ber, preload
from pipeline.ber.results import FILE_LEVEL_INDEX, BerDecoded, BerRejected, BerResult
from pipeline.ber.wire import to_wire_fields

__all__ = [
    "FILE_LEVEL_INDEX",
    "BerDecoded",
    "BerRejected",
    "BerResult",
    "decode_ber",
    "looks_like_ber",
    "preload",
    "to_wire_fields",
]
